import Foundation

/// A source file held as UTF-8 bytes with a lazily built line table.
/// Positions are byte offsets; line and column are computed on demand (columns count UTF-8 bytes).
public final class SourceFile: Sendable {
    public let path: String
    public let bytes: [UInt8]
    public let lineStarts: [Int]

    public init(path: String, text: String) {
        self.path = path
        self.bytes = Array(text.utf8)
        var starts = [0]
        for (i, b) in bytes.enumerated() where b == 0x0A { starts.append(i + 1) }
        self.lineStarts = starts
    }

    /// 1-based line and column of a byte offset.
    public func location(of offset: Int) -> (line: Int, column: Int) {
        let off = max(0, min(offset, bytes.count))
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= off { lo = mid } else { hi = mid - 1 }
        }
        return (lo + 1, off - lineStarts[lo] + 1)
    }

    /// The text of a 1-based line, without its newline.
    public func lineText(_ line: Int) -> String {
        guard line >= 1, line <= lineStarts.count else { return "" }
        let start = lineStarts[line - 1]
        var end = line < lineStarts.count ? lineStarts[line] - 1 : bytes.count
        if end > start, bytes[end - 1] == 0x0D { end -= 1 }
        return String(decoding: bytes[start..<max(start, end)], as: UTF8.self)
    }

    public func text(_ span: Span) -> String {
        let s = max(0, min(span.start, bytes.count)), e = max(s, min(span.end, bytes.count))
        return String(decoding: bytes[s..<e], as: UTF8.self)
    }
}

/// A half-open byte range in one source file.
public struct Span: Sendable, Hashable {
    public let file: SourceFile
    public let start: Int
    public let end: Int
    public init(file: SourceFile, start: Int, end: Int) {
        self.file = file; self.start = start; self.end = max(start, end)
    }
    public func to(_ other: Span) -> Span { Span(file: file, start: start, end: other.end) }

    /// `path:line:col`
    public var description: String {
        let (l, c) = file.location(of: start)
        return "\(file.path):\(l):\(c)"
    }
    public var line: Int { file.location(of: start).line }
    public var column: Int { file.location(of: start).column }

    public static func == (a: Span, b: Span) -> Bool {
        a.file === b.file && a.start == b.start && a.end == b.end
    }
    public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(file)); h.combine(start); h.combine(end) }
}

/// Every file gpusim reads goes through here: what the user named must be a readable regular
/// file, and anything else (missing, a directory, a FIFO, a device, no permission, an I/O
/// error) is one line naming the path, never a trap or a read that blocks forever.
public enum InputFile {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Why `path` cannot be read as a file, or nil when it can.
    public static func problem(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else {
            return errno == ENOENT || errno == ENOTDIR ? "cannot open '\(path)': no such file" : "cannot open '\(path)': \(String(cString: strerror(errno)))"
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return "'\(path)' is a directory, not a file"
        case S_IFIFO: return "'\(path)' is a FIFO (named pipe), not a regular file"
        case S_IFCHR, S_IFBLK: return "'\(path)' is a device, not a regular file"
        case S_IFSOCK: return "'\(path)' is a socket, not a regular file"
        default: return "'\(path)' is not a regular file"
        }
        if access(path, R_OK) != 0 { return "cannot read '\(path)': permission denied" }
        return nil
    }

    /// True when `path` is a readable regular file.
    public static func isReadable(_ path: String) -> Bool { problem(path) == nil }

    /// The whole file.
    public static func read(_ path: String) throws(Failure) -> Data {
        if let p = problem(path) { throw Failure(description: p) }
        do { return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw Failure(description: "cannot read '\(path)': \(error.localizedDescription)")
        }
    }

    /// The first `count` bytes (fewer if the file is shorter); empty when it cannot be read.
    public static func head(_ path: String, _ count: Int) -> Data {
        guard isReadable(path), let h = FileHandle(forReadingAtPath: path) else { return Data() }
        defer { try? h.close() }
        return (try? h.read(upToCount: count)) ?? Data()
    }
}
