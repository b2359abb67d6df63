import ArgumentParser
import Foundation
import KernLang
import Simulator

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the shipped kernels (with their doc line and parameters) and the GPU presets.")

    @Option(help: "A folder of kernels to list (default: GPUSIM_KERNEL_PATH's folders, then the shipped library).")
    var kernels: String?

    @Flag(help: "Print as JSON.")
    var json = false

    /// The doc comment's first sentence (a period followed by a capital letter; doc lines wrap
    /// mid-sentence), at most 160 characters.
    static func summary(_ doc: [String]) -> String {
        let chars = Array(doc.joined(separator: " "))
        var end = chars.count
        for i in 0..<max(0, chars.count - 2) where chars[i] == "." && chars[i + 1] == " " && chars[i + 2].isUppercase {
            end = i + 1
            break
        }
        let sentence = String(chars[..<end])
        return sentence.count > 160 ? String(sentence.prefix(159)) + "…" : sentence
    }

    func run() throws {
        let folders = kernels.map { [$0] } ?? KernelLibrary.folders()
        var items: [[String: String]] = []
        for folder in folders {
            for rel in KernelLibrary.kernels(in: folder) {
                let path = folder + "/" + rel
                var item = ["file": path, "folder": folder, "name": String(rel.dropLast(5))]
                if case .success(let program)? = try? Runner.load(path) {
                    let k = program.entryKernel
                    item["kernel"] = k.name
                    item["doc"] = Self.summary(k.doc)
                    item["params"] = k.params.map(\.name).joined(separator: " ")
                } else {
                    item["doc"] = "(does not check: run gpusim check \(path))"
                }
                items.append(item)
            }
        }
        if json {
            struct Out: Encodable { let kernels: [[String: String]]; let aliases: [String: String]; let presets: [GPUModel] }
            let aliases = Dictionary(uniqueKeysWithValues: KernelLibrary.aliases.map { ($0.name, $0.kernel) })
            try printJSON(Out(kernels: items, aliases: aliases, presets: GPUModel.presets))
            return
        }
        if folders.isEmpty { print("No kernel library found: set GPUSIM_KERNEL_PATH or reinstall (scripts/setup.sh).") }
        for folder in folders {
            print("Kernels in \(folder) (run them by name: gpusim run NAME):")
            for i in items where i["folder"] == folder {
                print("  \(i["name"]!)")
                print("      \(i["doc"]!)")
                if let p = i["params"], !p.isEmpty { print("      params: \(p)") }
            }
        }
        if kernels == nil {
            print("Short names: " + KernelLibrary.aliases.map { "\($0.name) = \($0.kernel)" }.joined(separator: ", "))
        }
        print("GPU presets:")
        for g in GPUModel.presets {
            print("  \(g.name.padding(toLength: 11, withPad: " ", startingAt: 0)) \(g.description)" + (g.name == GPUModel.defaultPreset ? " (default)" : ""))
        }
    }
}
