import Foundation
import KernLang

/// Reads what `ncu --csv` prints, in either layout:
/// - long (the details page with `--metrics`): one row per launch and metric, with the columns
///   "ID", "Kernel Name", "Block Size", "Grid Size", "Metric Name", "Metric Unit", "Metric Value";
/// - wide (`--page raw`): one row per launch, one column per metric, and (as ncu prints it) a
///   second row of units.
/// Values may carry thousands separators; units are converted to bytes and seconds (`byte`,
/// `Kbyte` = 1000 bytes as Nsight Compute's SI prefixes go, `KiB` = 1024, `sector` = 32 bytes;
/// `ns`/`nsecond`, `us`/`usecond`, `ms`/`msecond`, `s`/`second`), so output printed with or
/// without `--print-units base` reads the same. Other columns (process, device, section) may be
/// present; "Device" names the GPU.
public enum NsightCSV {
    public static let tool = "Nsight Compute"

    /// The metrics gpusim reads. DRAM bytes and duration are required; L2 bytes are optional
    /// (`lts__t_bytes.sum`, or `lts__t_sectors.sum` in 32-byte sectors).
    enum Metric: String, CaseIterable {
        case dramRead = "dram__bytes_read.sum", dramWrite = "dram__bytes_write.sum"
        case duration = "gpu__time_duration.sum", l2Bytes = "lts__t_bytes.sum", l2Sectors = "lts__t_sectors.sum"
        var isTime: Bool { self == .duration }
        static let required: [Metric] = [.dramRead, .dramWrite, .duration]
    }

    public static func read(_ path: String) throws(ImportError) -> MeasuredRun {
        let text = try readText(path)
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ImportError) -> MeasuredRun {
        var rows = try csvRows(text, file: file)
        // ncu prints its own log lines (==PROF== ...) before the table when not redirected.
        while let first = rows.first, first.first?.hasPrefix("==") == true || first.allSatisfy(\.isEmpty) { rows.removeFirst() }
        guard let header = rows.first else { throw ImportError("'\(file)' is empty, not ncu --csv output") }
        let col = Dictionary(header.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        guard col["ID"] != nil, col["Kernel Name"] != nil else {
            throw ImportError("'\(file)' is not ncu --csv output: its first row has no \"ID\" and \"Kernel Name\" columns (got \(header.prefix(6).map { "\"\($0)\"" }.joined(separator: ", ")))")
        }
        let body = Array(rows.dropFirst())
        if col["Metric Name"] != nil {
            return try long(body, col: col, file: file)
        }
        return try wide(body, header: header, col: col, file: file)
    }

    // MARK: layouts

    static func long(_ rows: [[String]], col: [String: Int], file: String) throws(ImportError) -> MeasuredRun {
        guard let nameCol = col["Metric Name"], let valueCol = col["Metric Value"] else {
            throw ImportError("'\(file)': ncu's long CSV form needs a \"Metric Value\" column next to \"Metric Name\"")
        }
        let unitCol = col["Metric Unit"]
        var order: [String] = []
        var byID: [String: (launch: [String], values: [Metric: Double])] = [:]
        var seenMetrics = Set<String>()
        for (n, row) in rows.enumerated() where !row.allSatisfy(\.isEmpty) {
            let line = n + 2
            guard row.count > max(nameCol, valueCol) else { throw ImportError("'\(file)': row \(line) has \(row.count) fields, the header \(col.count)") }
            let id = field(row, col["ID"])
            if byID[id] == nil { order.append(id); byID[id] = (row, [:]) }
            seenMetrics.insert(row[nameCol])
            guard let metric = Metric(rawValue: row[nameCol]) else { continue }
            let unit = unitCol.map { field(row, $0) } ?? ""
            byID[id]!.values[metric] = try value(row[valueCol], unit: unit, metric: metric, at: "\(file): row \(line)")
        }
        guard !order.isEmpty else { throw ImportError("'\(file)' holds no kernel launches (a header and no rows)") }
        let present = Set(Metric.allCases.filter { seenMetrics.contains($0.rawValue) })
        try requireMetrics(present, file: file, seen: seenMetrics.sorted())
        var launches: [MeasuredLaunch] = []
        for id in order {
            let (row, values) = byID[id]!
            launches.append(try launch(row, col: col, values: values, id: id, file: file))
        }
        return MeasuredRun(tool: tool, file: file, device: device(rows.first ?? [], col), launches: launches)
    }

    static func wide(_ rows: [[String]], header: [String], col: [String: Int], file: String) throws(ImportError) -> MeasuredRun {
        let metricCols = Metric.allCases.compactMap { m in col[m.rawValue].map { (m, $0) } }
        try requireMetrics(Set(metricCols.map(\.0)), file: file, seen: header.filter { $0.contains("__") })
        var rows = rows.filter { !$0.allSatisfy(\.isEmpty) }
        // ncu's raw page prints the units as the second row, with an empty ID.
        var units: [String] = []
        if let first = rows.first, field(first, col["ID"]).isEmpty { units = first; rows.removeFirst() }
        guard !rows.isEmpty else { throw ImportError("'\(file)' holds no kernel launches (a header and no rows)") }
        var launches: [MeasuredLaunch] = []
        for (n, row) in rows.enumerated() {
            let line = n + (units.isEmpty ? 2 : 3)
            guard row.count >= header.count else { throw ImportError("'\(file)': row \(line) has \(row.count) fields, the header \(header.count)") }
            var values: [Metric: Double] = [:]
            for (m, c) in metricCols {
                values[m] = try value(row[c], unit: c < units.count ? units[c] : "", metric: m, at: "\(file): row \(line), \(m.rawValue)")
            }
            launches.append(try launch(row, col: col, values: values, id: field(row, col["ID"]), file: file))
        }
        return MeasuredRun(tool: tool, file: file, device: device(rows[0], col), launches: launches)
    }

    // MARK: pieces

    static func requireMetrics(_ present: Set<Metric>, file: String, seen: [String]) throws(ImportError) {
        let missing = Metric.required.filter { !present.contains($0) }
        guard missing.isEmpty else {
            let got = seen.isEmpty ? "none of gpusim's" : seen.prefix(8).joined(separator: ", ")
            throw ImportError("'\(file)' lacks the metric\(missing.count == 1 ? "" : "s") \(missing.map(\.rawValue).joined(separator: ", ")) (it has \(got)); profile with ncu --csv --metrics \(Metric.required.map(\.rawValue).joined(separator: ",")),\(Metric.l2Bytes.rawValue)")
        }
    }

    static func launch(_ row: [String], col: [String: Int], values: [Metric: Double], id: String, file: String) throws(ImportError) -> MeasuredLaunch {
        for m in Metric.required where values[m] == nil {
            throw ImportError("'\(file)': launch \(id) has no value for \(m.rawValue)")
        }
        let l2 = values[.l2Bytes] ?? values[.l2Sectors]
        return MeasuredLaunch(name: field(row, col["Kernel Name"]),
                              grid: dims(field(row, col["Grid Size"])), block: dims(field(row, col["Block Size"])),
                              dramReadBytes: Int64(values[.dramRead]!.rounded()), dramWriteBytes: Int64(values[.dramWrite]!.rounded()),
                              l2Bytes: l2.map { Int64($0.rounded()) }, seconds: values[.duration]!)
    }

    static func device(_ row: [String], _ col: [String: Int]) -> String? {
        let d = field(row, col["Device"] ?? col["device__attribute_display_name"])
        return d.isEmpty ? nil : d
    }

    static func field(_ row: [String], _ c: Int?) -> String {
        guard let c, c < row.count else { return "" }
        return row[c]
    }

    /// "(2, 66, 1)" -> [2, 66, 1].
    static func dims(_ s: String) -> [Int64] {
        s.split(whereSeparator: { !$0.isNumber }).compactMap { Int64($0) }
    }

    /// A value in bytes or seconds.
    static func value(_ raw: String, unit: String, metric: Metric, at: String) throws(ImportError) -> Double {
        let cleaned = raw.replacingOccurrences(of: ",", with: "").trimmingCharacters(in: .whitespaces)
        guard let v = Double(cleaned), v.isFinite, v >= 0 else {
            throw ImportError("\(at): '\(raw)' is not a number")
        }
        let u = unit.trimmingCharacters(in: .whitespaces)
        if metric.isTime {
            let scale: [String: Double] = ["": 1e-9, "ns": 1e-9, "nsecond": 1e-9, "us": 1e-6, "usecond": 1e-6,
                                           "ms": 1e-3, "msecond": 1e-3, "s": 1, "second": 1]
            guard let f = scale[u] else { throw ImportError("\(at): unit '\(unit)' is not a time unit (ns, usecond, msecond, second) for \(metric.rawValue)") }
            return v * f
        }
        if metric == .l2Sectors {
            guard u.isEmpty || u == "sector" else { throw ImportError("\(at): unit '\(unit)' is not 'sector' for \(metric.rawValue)") }
            return v * 32
        }
        let scale: [String: Double] = ["": 1, "byte": 1, "B": 1, "Kbyte": 1e3, "KB": 1e3, "Mbyte": 1e6, "MB": 1e6,
                                       "Gbyte": 1e9, "GB": 1e9, "Tbyte": 1e12, "TB": 1e12,
                                       "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824]
        guard let f = scale[u] else { throw ImportError("\(at): unit '\(unit)' is not a byte unit (byte, Kbyte, Mbyte, Gbyte) for \(metric.rawValue)") }
        return v * f
    }

    /// RFC 4180 fields: quoted fields may hold commas, doubled quotes and line breaks.
    static func csvRows(_ text: String, file: String) throws(ImportError) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = ""
        var quoted = false, wasQuoted = false
        var it = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return it.next()
        }
        while let c = next() {
            if quoted {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = n }
                    } else { quoted = false }
                } else { field.unicodeScalars.append(c) }
                continue
            }
            switch c {
            case "\"" where field.isEmpty && !wasQuoted: quoted = true; wasQuoted = true
            case ",": row.append(field); field = ""; wasQuoted = false
            case "\n":
                row.append(field); rows.append(row); row = []; field = ""; wasQuoted = false
            case "\r": continue
            default: field.unicodeScalars.append(c)
            }
        }
        if quoted { throw ImportError("'\(file)' ends inside a quoted field (a truncated CSV?)") }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    /// Reads a text file, naming directories and unreadable files in the error.
    static func readText(_ path: String) throws(ImportError) -> String {
        do { return String(decoding: try InputFile.read(path), as: UTF8.self) } catch { throw ImportError(error.description) }
    }
}
