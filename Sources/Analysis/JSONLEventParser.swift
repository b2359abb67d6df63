import Foundation
import Simulator

/// Parses one event line in exactly the form `JSONLTraceWriter` writes it (keys in its order,
/// strings without escapes), about twenty times faster than JSONDecoder. Anything else (other
/// key orders, escaped strings, lines written by hand) returns nil, and the reader falls back to
/// JSONDecoder: the fast path may decline a line, never misread one. Doubles are parsed by the
/// standard library's correctly rounded conversion, so times read back bit for bit.
struct JSONLEventParser {
    private var p: UnsafePointer<UInt8> = UnsafePointer(bitPattern: 1)!
    private var end: UnsafePointer<UInt8> = UnsafePointer(bitPattern: 1)!
    /// Strings seen so far (kinds, ops, names repeat): reused instead of decoded again.
    private var strings: [(bytes: [UInt8], string: String)] = []

    mutating func parse(_ line: Data) -> Event? {
        line.withUnsafeBytes { parse($0) }
    }

    /// Parses the line in place (the reader's buffer), with no copy.
    mutating func parse(_ raw: UnsafeRawBufferPointer) -> Event? {
        guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count > 2 else { return nil }
        p = base; end = base + raw.count
        return event()
    }

    private mutating func literal(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard end - p >= n, memcmp(p, s.utf8Start, n) == 0 else { return false }
        p += n
        return true
    }

    private mutating func int() -> Int64? {
        var negative = false
        if p < end, p.pointee == UInt8(ascii: "-") { negative = true; p += 1 }
        var v: Int64 = 0, digits = 0
        while p < end, p.pointee >= 48, p.pointee <= 57 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(p.pointee - 48))
            if o1 || o2 { return nil }
            v = a; p += 1; digits += 1
        }
        return digits == 0 ? nil : (negative ? -v : v)
    }

    /// A JSON number as the writer prints it (integers exactly, else Swift's shortest form),
    /// through strtod, which rounds correctly.
    private mutating func double() -> Double? {
        let start = p
        var integral = true
        while p < end, let c = Optional(p.pointee), (c >= 48 && c <= 57) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { integral = false }
            p += 1
        }
        let n = p - start
        guard n > 0, n < 40 else { return nil }
        if integral {
            var q = start
            swap(&q, &p)
            defer { p = q }
            return int().map(Double.init)
        }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buf -> Double? in
            for i in 0..<n { buf[i] = CChar(bitPattern: start[i]) }
            buf[n] = 0
            var stop: UnsafeMutablePointer<CChar>?
            let v = strtod(buf.baseAddress!, &stop)
            return stop == buf.baseAddress! + n ? v : nil
        }
    }

    private mutating func string() -> String? {
        guard p < end, p.pointee == UInt8(ascii: "\"") else { return nil }
        p += 1
        let start = p
        while p < end, p.pointee != UInt8(ascii: "\"") {
            if p.pointee == UInt8(ascii: "\\") { return nil }
            p += 1
        }
        guard p < end else { return nil }
        let bytes = UnsafeBufferPointer(start: start, count: p - start)
        p += 1
        for i in strings.indices where strings[i].bytes.count == bytes.count && strings[i].bytes.withUnsafeBufferPointer({ memcmp($0.baseAddress!, start, bytes.count) == 0 }) {
            return strings[i].string
        }
        let s = String(decoding: bytes, as: UTF8.self)
        if strings.count < 256 { strings.append((Array(bytes), s)) }
        return s
    }

    private mutating func event() -> Event? {
        var e = Event()
        guard literal("{\"seq\":"), let seq = int(), literal(",\"t\":"), let t = double(), literal(",\"dur\":"), let dur = double(),
              literal(",\"kind\":"), let kindText = string(), let kind = EventKind(rawValue: kindText),
              literal(",\"op\":"), let op = string(), literal(",\"name\":"), let name = string(),
              literal(",\"shape\":["), let rows = int(), literal(","), let cols = int(), literal("],\"bytes\":"), let bytes = int()
        else { return nil }
        e.seq = seq; e.time = t; e.duration = dur; e.kind = kind; e.op = op; e.name = name; e.rows = rows; e.cols = cols; e.bytes = bytes
        e.dramBytes = BinaryTrace.defaultDRAM(kind, bytes: bytes)
        if literal(",\"dram\":") { guard let v = int() else { return nil }; e.dramBytes = v }
        if literal(",\"dram_write\":") { guard let v = int() else { return nil }; e.dramWriteBytes = v }
        if literal(",\"flops\":") { guard let v = int() else { return nil }; e.flops = v }
        guard literal(",\"sram\":"), let sram = int(), literal(",\"hbm\":"), let hbm = int(), literal(",\"loc\":\""),
              var line = int(), literal(":"), var column = int() else { return nil }
        // "file:line:column" for a statement outside the entry kernel's file.
        var file: Int64 = 0
        if literal(":") { guard let c = int() else { return nil }; (file, line, column) = (line, column, c) }
        guard literal("\"}"), p == end, [file, line, column].allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }) else { return nil }
        e.sramBytes = sram; e.hbmBytes = hbm; e.line = Int(line); e.column = Int(column); e.file = Int(file)
        return e
    }
}
