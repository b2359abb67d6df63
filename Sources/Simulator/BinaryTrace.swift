import Foundation
import KernLang

/// The compact binary trace (`.gstrace`): the same header, events and summary as the JSONL
/// trace in about a tenth of the bytes. Little-endian throughout:
///
///     "GPUSIMTB"  u32 version  u32 header length  header JSON (as the JSONL header line)
///     events, one variable-length record each (below), in order
///     footer JSON {"sites": [[kind, op, name, line, column(, file)], ...], "summary": {...}}
///     u64 footer offset  u64 event count  "GSTREND!"
///
/// An event's kind, op, name and source position are interned as a *site* (one per distinct
/// combination, usually one per statement). A record is the site number (LEB128), a byte
/// saying which fields differ from the previous event at the same site, the time (f64), and
/// the fields that differ: duration as an f64, the integers (rows, cols, bytes, flops, sram,
/// hbm) as zigzag LEB128 deltas against that previous event; then, when the mask's top bit
/// is set, an extension byte: `seq` when it is not one more than the last, and a load's HBM
/// bytes when L2 served part of it (as bytes minus them), and a measured launch's DRAM write
/// bytes (LEB128). In a loop almost nothing changes
/// but the time, so most events take 10 to 12 bytes. A file without the closing magic was
/// cut short.
public enum BinaryTrace {
    public static let magic: [UInt8] = Array("GPUSIMTB".utf8)
    public static let endMagic: [UInt8] = Array("GSTREND!".utf8)
    public static let trailerSize = 24
    /// The most bytes one record can take: site and seq as 10-byte varints, the mask, two
    /// f64s and six 10-byte varints, the extension byte and its three varints.
    public static let maxRecordSize = 10 + 1 + 8 + 8 + 6 * 10 + 1 + 10 + 10 + 10

    /// Counts in an event are never negative and stay far below 2^50 (a petabyte): a reader
    /// refuses anything else, so a damaged file cannot overflow the sums made from it.
    public static func plausible(_ values: Int64...) -> Bool {
        values.allSatisfy { $0 >= 0 && $0 < 1 << 50 }
    }

    /// Bits of the change mask.
    enum Field {
        static let duration: UInt8 = 1, rows: UInt8 = 2, cols: UInt8 = 4, bytes: UInt8 = 8
        static let flops: UInt8 = 16, sram: UInt8 = 32, hbm: UInt8 = 64, extended: UInt8 = 128
        // Bits of the extension byte.
        static let seq: UInt8 = 1, dram: UInt8 = 2, dramWrite: UInt8 = 4
    }

    /// A transfer's HBM bytes unless L2 served part of it; 0 for other events.
    public static func defaultDRAM(_ kind: EventKind, bytes: Int64) -> Int64 { kind == .load || kind == .store ? bytes : 0 }

    /// The previous event's fields at one site: what the next record there is a delta against.
    struct Previous {
        var duration = 0.0
        var rows: Int64 = 0, cols: Int64 = 0, bytes: Int64 = 0, flops: Int64 = 0, sram: Int64 = 0, hbm: Int64 = 0
    }

/// What an event shares with every other event from the same place.
    public struct Site: Equatable, Sendable {
        public var kind: EventKind
        public var op: String
        public var name: String
        public var line: Int
        public var column: Int
        /// The source file's id (0: the entry kernel's; stored only when not 0).
        public var file: Int = 0
    }

    public struct Footer: Codable {
        public var sites: [[SiteField]]
        public var summary: RunSummary
    }

    /// A site is stored as a JSON array mixing strings and integers.
    public enum SiteField: Codable, Equatable {
        case string(String), int(Int)
        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) { self = .int(i) } else { self = .string(try c.decode(String.self)) }
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .string(let s): try c.encode(s)
            case .int(let i): try c.encode(i)
            }
        }
    }

    public static func encode(_ s: Site) -> [SiteField] {
        [.string(s.kind.rawValue), .string(s.op), .string(s.name), .int(s.line), .int(s.column)] + (s.file == 0 ? [] : [.int(s.file)])
    }

    public static func decode(_ f: [SiteField]) -> Site? {
        guard f.count == 5 || f.count == 6, case .string(let k) = f[0], let kind = EventKind(rawValue: k), case .string(let op) = f[1],
              case .string(let name) = f[2], case .int(let line) = f[3], case .int(let column) = f[4] else { return nil }
        var file = 0
        if f.count == 6 { guard case .int(let id) = f[5], id > 0 else { return nil }; file = id }
        return Site(kind: kind, op: op, name: name, line: line, column: column, file: file)
    }
}

/// Writes the binary trace: per event one site lookup (keyed by position and kind, the op
/// and name then compared) and a few bytes stored into a raw buffer written out in 1 MiB blocks.
public final class BinaryTraceWriter: TraceWriter {
    let out: AtomicFileWriter
    var sites: [BinaryTrace.Site] = []
    var previous: [BinaryTrace.Previous] = []
    /// The last site created at each (line, column, kind), and before it the previous one with
    /// the same key (a statement can emit events under several ops or names): a chain through
    /// `sameKey`, so the lookup allocates nothing.
    var lastSite: [Int: Int] = [:]
    var sameKey: [Int] = []
    /// The site that followed each site last time: loops repeat their events in order, so
    /// this guess is almost always right and saves the hash lookup.
    var following: [Int] = []
    var lastSiteSeen = -1
    var lastSeq: Int64 = 0
    var offset: Int64 = 0
    var count: Int64 = 0
    let capacity = 1 << 20
    let block: UnsafeMutablePointer<UInt8>
    var filled = 0

    public init(path: String, header: TraceHeader) throws(SimulationError) {
        out = try AtomicFileWriter(path: path)
        block = .allocate(capacity: capacity)
        let data = try sortedJSON(header, "trace header")
        var start = BinaryTrace.magic
        Self.append(UInt32(traceSchemaVersion), to: &start)
        Self.append(UInt32(data.count), to: &start)
        try out.write(Data(start) + data)
        offset = Int64(start.count + data.count)
    }

    deinit { block.deallocate() }

    static func append<T: FixedWidthInteger>(_ v: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always) func matches(_ i: Int, _ e: Event) -> Bool {
        // Field by field (no copy of the site's strings).
        return sites[i].line == e.line && sites[i].column == e.column && sites[i].file == e.file && sites[i].kind == e.kind && sites[i].op == e.op
            && sites[i].name == e.name
    }

    @inline(__always) func site(_ e: Event) -> Int {
        if lastSiteSeen >= 0 {
            let guess = following[lastSiteSeen]
            if guess >= 0 && matches(guess, e) { lastSiteSeen = guess; return guess }
        }
        let found = lookUp(e)
        if lastSiteSeen >= 0 { following[lastSiteSeen] = found }
        lastSiteSeen = found
        return found
    }

    func lookUp(_ e: Event) -> Int {
        let key = (e.line << 24) ^ (e.column << 4) ^ e.kind.code ^ (e.file << 48)
        var i = lastSite[key] ?? -1
        while i >= 0 {
            if matches(i, e) { return i }
            i = sameKey[i]
        }
        sameKey.append(lastSite[key] ?? -1)
        lastSite[key] = sites.count
        sites.append(BinaryTrace.Site(kind: e.kind, op: e.op, name: e.name, line: e.line, column: e.column, file: e.file))
        previous.append(BinaryTrace.Previous())
        following.append(-1)
        return sites.count - 1
    }

    @inline(__always) func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { block[filled] = UInt8(truncatingIfNeeded: v) | 0x80; filled += 1; v >>= 7 }
        block[filled] = UInt8(v); filled += 1
    }

    @inline(__always) func delta(_ new: Int64, _ old: Int64) {
        let d = new &- old
        varint(UInt64(bitPattern: (d << 1) ^ (d >> 63)))
    }

    @inline(__always) func float(_ d: Double) {
        UnsafeMutableRawPointer(block + filled).storeBytes(of: d.bitPattern.littleEndian, as: UInt64.self)
        filled += 8
    }

    public func record(_ e: Event) throws(SimulationError) {
        if filled > capacity - BinaryTrace.maxRecordSize { try drain() }
        let s = site(e)
        let p = previous[s]
        var mask: UInt8 = 0
        if e.duration.bitPattern != p.duration.bitPattern { mask |= BinaryTrace.Field.duration }
        if e.rows != p.rows { mask |= BinaryTrace.Field.rows }
        if e.cols != p.cols { mask |= BinaryTrace.Field.cols }
        if e.bytes != p.bytes { mask |= BinaryTrace.Field.bytes }
        if e.flops != p.flops { mask |= BinaryTrace.Field.flops }
        if e.sramBytes != p.sram { mask |= BinaryTrace.Field.sram }
        if e.hbmBytes != p.hbm { mask |= BinaryTrace.Field.hbm }
        var ext: UInt8 = 0
        if e.seq != lastSeq &+ 1 { ext |= BinaryTrace.Field.seq }
        if e.dramBytes != BinaryTrace.defaultDRAM(e.kind, bytes: e.bytes) { ext |= BinaryTrace.Field.dram }
        if e.dramWriteBytes != 0 { ext |= BinaryTrace.Field.dramWrite }
        if ext != 0 { mask |= BinaryTrace.Field.extended }
        varint(UInt64(s))
        block[filled] = mask; filled += 1
        float(e.time)
        if mask != 0 {
            if mask & BinaryTrace.Field.duration != 0 { float(e.duration) }
            if mask & BinaryTrace.Field.rows != 0 { delta(e.rows, p.rows) }
            if mask & BinaryTrace.Field.cols != 0 { delta(e.cols, p.cols) }
            if mask & BinaryTrace.Field.bytes != 0 { delta(e.bytes, p.bytes) }
            if mask & BinaryTrace.Field.flops != 0 { delta(e.flops, p.flops) }
            if mask & BinaryTrace.Field.sram != 0 { delta(e.sramBytes, p.sram) }
            if mask & BinaryTrace.Field.hbm != 0 { delta(e.hbmBytes, p.hbm) }
            if ext != 0 {
                block[filled] = ext; filled += 1
                if ext & BinaryTrace.Field.seq != 0 { delta(e.seq, lastSeq) }
                if ext & BinaryTrace.Field.dram != 0 { delta(e.bytes, e.dramBytes) }
                if ext & BinaryTrace.Field.dramWrite != 0 { varint(UInt64(e.dramWriteBytes)) }
            }
            previous[s] = BinaryTrace.Previous(duration: e.duration, rows: e.rows, cols: e.cols, bytes: e.bytes, flops: e.flops,
                                               sram: e.sramBytes, hbm: e.hbmBytes)
        }
        lastSeq = e.seq
        count += 1
    }

    func drain() throws(SimulationError) {
        try out.write(UnsafeRawBufferPointer(start: block, count: filled))
        offset += Int64(filled)
        filled = 0
    }

    public func finish(summary: RunSummary) throws(SimulationError) {
        try drain()
        let data = try sortedJSON(BinaryTrace.Footer(sites: sites.map(BinaryTrace.encode), summary: summary), "trace footer")
        var trailer: [UInt8] = []
        Self.append(UInt64(offset), to: &trailer)
        Self.append(UInt64(count), to: &trailer)
        trailer += BinaryTrace.endMagic
        try out.write(data + Data(trailer))
        try out.commit()
    }

    public func abandon() { out.abandon() }
}

/// Reads the events of a binary trace back, with the writer's state rebuilt as it goes.
/// Every read is bounds-checked: a damaged file is reported, never trusted.
public struct BinaryTraceDecoder {
    public enum Failure: Error { case malformed(offset: Int, String) }
    let bytes: UnsafeRawBufferPointer
    var at: Int
    let end: Int
    let sites: [BinaryTrace.Site]
    var previous: [BinaryTrace.Previous]
    var lastSeq: Int64 = 0

    /// `bytes` is the whole file; events lie in `start..<end`.
    public init(bytes: UnsafeRawBufferPointer, start: Int, end: Int, sites: [BinaryTrace.Site]) {
        self.bytes = bytes; at = start; self.end = end; self.sites = sites
        previous = Array(repeating: BinaryTrace.Previous(), count: sites.count)
    }

    public var atEnd: Bool { at >= end }

    mutating func byte() throws(Failure) -> UInt8 {
        guard at < end else { throw .malformed(offset: at, "a record runs past the end of the events") }
        defer { at += 1 }
        return bytes[at]
    }

    mutating func varint() throws(Failure) -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw .malformed(offset: at - 1, "a number is longer than 64 bits") }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    mutating func delta(_ old: Int64) throws(Failure) -> Int64 {
        let z = try varint()
        return old &+ (Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1))
    }

    mutating func float() throws(Failure) -> Double {
        guard at + 8 <= end else { throw .malformed(offset: at, "a record runs past the end of the events") }
        defer { at += 8 }
        return Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
    }

    /// The next event (its `file` left to the caller).
    public mutating func next(into e: inout Event) throws(Failure) {
        let start = at
        let s = try varint()
        guard s < UInt64(sites.count) else { throw .malformed(offset: start, "site \(s) is beyond the table's \(sites.count)") }
        let site = sites[Int(s)]
        let mask = try byte()
        e.time = try float()
        var p = previous[Int(s)]
        if mask != 0 {
            if mask & BinaryTrace.Field.duration != 0 { p.duration = try float() }
            if mask & BinaryTrace.Field.rows != 0 { p.rows = try delta(p.rows) }
            if mask & BinaryTrace.Field.cols != 0 { p.cols = try delta(p.cols) }
            if mask & BinaryTrace.Field.bytes != 0 { p.bytes = try delta(p.bytes) }
            if mask & BinaryTrace.Field.flops != 0 { p.flops = try delta(p.flops) }
            if mask & BinaryTrace.Field.sram != 0 { p.sram = try delta(p.sram) }
            if mask & BinaryTrace.Field.hbm != 0 { p.hbm = try delta(p.hbm) }
            previous[Int(s)] = p
        }
        let ext = mask & BinaryTrace.Field.extended != 0 ? try byte() : 0
        e.seq = ext & BinaryTrace.Field.seq != 0 ? try delta(lastSeq) : lastSeq &+ 1
        lastSeq = e.seq
        let dram = BinaryTrace.defaultDRAM(site.kind, bytes: p.bytes)
        e.dramBytes = ext & BinaryTrace.Field.dram != 0 ? p.bytes &- (try delta(0)) : dram
        e.dramWriteBytes = ext & BinaryTrace.Field.dramWrite != 0 ? Int64(truncatingIfNeeded: try varint()) : 0
        guard BinaryTrace.plausible(p.rows, p.cols, p.bytes, p.flops, p.sram, p.hbm, e.seq, e.dramBytes, e.dramWriteBytes), p.duration.isFinite, e.time.isFinite else {
            throw .malformed(offset: start, "a value is negative, not finite or beyond 2^50")
        }
        e.duration = p.duration; e.rows = p.rows; e.cols = p.cols; e.bytes = p.bytes; e.flops = p.flops
        e.sramBytes = p.sram; e.hbmBytes = p.hbm
        e.kind = site.kind; e.op = site.op; e.name = site.name; e.line = site.line; e.column = site.column; e.file = site.file
    }
}
