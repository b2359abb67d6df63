import Foundation

/// NumPy `.npy` files (format 1.0/2.0/3.0), so inputs and outputs can be compared with
/// NumPy or PyTorch directly. Reads little-endian f2/f4/f8/i1/i2/i4/i8 in C order; writes f4.
public enum NPY {
    public struct Array: Sendable {
        public var shape: [Int]
        public var values: [Double]
        public init(shape: [Int], values: [Double]) { self.shape = shape; self.values = values }
    }

    public enum Failure: Error, CustomStringConvertible {
        case message(String)
        public var description: String { if case .message(let s) = self { return s }; return "" }
    }

    /// Parses the bytes of the .npy file at `path` (named in errors).
    public static func parse(_ data: Data, path: String) throws -> Array {
        let b = [UInt8](data)
        guard b.count >= 10, b[0] == 0x93, String(decoding: b[1..<6], as: UTF8.self) == "NUMPY" else {
            throw Failure.message("'\(path)' is not a .npy file (bad magic)")
        }
        let major = b[6]
        let headerLen: Int, start: Int
        if major == 1 { headerLen = Int(b[8]) | Int(b[9]) << 8; start = 10 }
        else if major == 2 || major == 3, b.count >= 12 { headerLen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; start = 12 }
        else { throw Failure.message("'\(path)': unsupported .npy version \(major)") }
        guard start + headerLen <= b.count else { throw Failure.message("'\(path)': truncated header") }
        let header = String(decoding: b[start..<start + headerLen], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr"), let q1 = descr.firstIndex(of: "'") else { throw Failure.message("'\(path)': header has no descr") }
        let afterQuote = descr[descr.index(after: q1)...]
        guard let q2 = afterQuote.firstIndex(of: "'") else { throw Failure.message("'\(path)': bad descr") }
        let type = String(afterQuote[..<q2])
        if let fo = field("fortran_order"), fo.hasPrefix("True") { throw Failure.message("'\(path)': Fortran-order arrays are not supported; save with np.ascontiguousarray") }
        guard let sh = field("shape"), let open = sh.firstIndex(of: "("), let close = sh.firstIndex(of: ")") else { throw Failure.message("'\(path)': header has no shape") }
        let shape = try sh[sh.index(after: open)..<close].split(separator: ",").map { s -> Int in
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)), v >= 0 else { throw Failure.message("'\(path)': bad shape '\(sh[open...close])'") }
            return v
        }
        let count = shape.reduce(1, *)
        let body = start + headerLen
        let little = type.first == "<" || type.first == "|"
        guard little else { throw Failure.message("'\(path)': only little-endian arrays are supported (dtype '\(type)')") }
        let kind = String(type.dropFirst())
        let size: Int
        switch kind { case "f2", "i2": size = 2; case "f4", "i4": size = 4; case "f8", "i8": size = 8; case "i1": size = 1
        default: throw Failure.message("'\(path)': unsupported dtype '\(type)' (use float16/32/64 or int8-64)") }
        guard b.count - body >= count * size else { throw Failure.message("'\(path)': truncated data (\(b.count - body) bytes for \(count) values of \(size))") }
        var values = [Double](repeating: 0, count: count)
        b.withUnsafeBytes { raw in
            for i in 0..<count {
                let o = body + i * size
                switch kind {
                case "f2": values[i] = Double(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
                case "f4": values[i] = Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
                case "f8": values[i] = Double(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self))
                case "i1": values[i] = Double(raw.loadUnaligned(fromByteOffset: o, as: Int8.self))
                case "i2": values[i] = Double(raw.loadUnaligned(fromByteOffset: o, as: Int16.self))
                case "i4": values[i] = Double(raw.loadUnaligned(fromByteOffset: o, as: Int32.self))
                default: values[i] = Double(raw.loadUnaligned(fromByteOffset: o, as: Int64.self))
                }
            }
        }
        return Array(shape: shape, values: values)
    }

    /// The bytes of a float32 `.npy` file.
    public static func encode(shape: [Int], values: [Float]) -> Data {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out = Data([0x93] + Swift.Array("NUMPY".utf8) + [1, 0])
        let n = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)])
        out.append(contentsOf: Swift.Array(header.utf8))
        values.withUnsafeBufferPointer { out.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self), count: $0.count * 4)) }
        return out
    }
}
