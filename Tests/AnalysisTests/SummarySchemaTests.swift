import Foundation
import Testing
import KernLang
import Simulator
@testable import Analysis
import TestSupport

/// The `--json` summary against its documentation (docs/summary.md): every key a summary
/// writes is documented with its type, and every key documented as `always` is written.
@Suite struct SummarySchemaTests {
    struct Row { var type: String; var always: Bool }

    /// The table of docs/summary.md: key -> (type, whether always present).
    static func documented() throws -> [String: Row] {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("docs/summary.md"), encoding: .utf8)
        var out: [String: Row] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            out[cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = Row(type: cells[1], always: cells[2] == "always")
        }
        return out
    }

    /// Every leaf of a JSON object as a dotted key (`*` for map entries, `[]` for list elements)
    /// with its JSON type.
    static func leaves(_ json: Any, _ path: String = "", into out: inout [String: String]) {
        let maps: Set<String> = ["params", "tensors", "kernels"]
        if let o = json as? [String: Any] {
            for (k, v) in o { leaves(v, maps.contains(path) ? path + ".*" : path.isEmpty ? k : path + "." + k, into: &out) }
        } else if let a = json as? [Any], path != "measured.unknown" {
            for v in a { leaves(v, path + "[]", into: &out) }
        } else {
            let type: String = switch json {
            case is String: "string"
            // Foundation gives JSON's true/false as a boolean NSNumber subclass.
            case let n as NSNumber where String(describing: type(of: n)).contains("Boolean"): "boolean"
            case let n as NSNumber where !"\(n)".contains(".") && !"\(n)".contains("e"): "integer"
            case is NSNumber: "number"
            default: path == "measured.unknown" ? "list of strings" : "?"
            }
            out[path] = type
        }
    }

    static func keys(_ s: RunSummary) throws -> [String: String] {
        var out: [String: String] = [:]
        leaves(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(s)), into: &out)
        return out
    }

    @Test func summariesMatchTheDocumentedSchema() throws {
        let doc = try Self.documented()
        #expect(doc.count > 50)
        let h100 = GPUModel.preset(named: "h100-sxm")!, seed = GPUModel.preset(named: "seed-a100")!
        // A seed preset; a real one running launches (kernels, launch overhead, waves, L2); an SRAM
        // overflow (first_overflow); a profiler import.
        let overflow = try Checker.check(file: SourceFile(path: "o.kern", text: """
            kernel o {
                input X[1024, 1024] f32
                output Y[1024, 1024] f32
                x = load X
                store x -> Y
            }
            """), loader: { _, _ in nil }).get()
        let simulated: [(String, RunSummary)] = [
            ("seed flash", try Runner.run(try program("Kernels/flash_attention.kern"), options: RunOptions(gpu: seed))),
            ("h100 stack", try Runner.run(try program("Kernels/models/tiny_mlp_stack.kern"), options: RunOptions(gpu: h100, overrides: ["T": .int(24), "L": .int(2)]))),
            ("overflow", try Runner.run(overflow, options: RunOptions(gpu: h100))),
        ]
        let measured = try NsightCSV.read(h100Reference.appendingPathComponent("ncu/standard_1024_64_16_fw.csv").path).summary(gpu: h100)
        var seen = Set<String>()
        for (label, s) in simulated + [("measured", measured)] {
            let keys = try Self.keys(s)
            for (key, type) in keys {
                seen.insert(key)
                guard let row = doc[key] else { Issue.record("\(label): '\(key)' is not in docs/summary.md"); continue }
                // "integer, number or string" allows each; a number may print without a fraction.
                #expect(row.type.contains(type) || (type == "integer" && row.type.contains("number")), "\(label): '\(key)' is \(type), documented \(row.type)")
            }
            if label != "measured" {
                for (key, row) in doc where row.always && !key.contains("*") && !key.contains("[]") {
                    #expect(keys[key] != nil, "\(label): documented as always present, missing: \(key)")
                }
            }
        }
        #expect(seen.contains("sram.first_overflow") && seen.contains("time.wave_idle") && seen.contains("kernels.*.bound") && seen.contains("measured.tool"))
    }
}
