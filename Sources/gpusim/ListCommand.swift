import ArgumentParser
import Foundation
import KernLang
import Simulator

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the shipped kernels (with their doc line and parameters) and the GPU presets.")

    @Option(help: "Folder of kernels.")
    var kernels: String = "Kernels"

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
        var items: [[String: String]] = []
        let fm = FileManager.default
        var paths: [String] = []
        if let e = fm.enumerator(atPath: kernels) {
            for case let p as String in e where p.hasSuffix(".kern") { paths.append(kernels + "/" + p) }
        }
        for path in paths.sorted() {
            guard case .success(let program)? = try? Runner.load(path) else {
                items.append(["file": path, "doc": "(does not check: run gpusim check \(path))", "params": ""])
                continue
            }
            let k = program.entryKernel
            items.append(["file": path, "kernel": k.name, "doc": Self.summary(k.doc), "params": k.params.map(\.name).joined(separator: " ")])
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            struct Out: Encodable { let kernels: [[String: String]]; let presets: [GPUModel] }
            print(String(decoding: try enc.encode(Out(kernels: items, presets: GPUModel.presets)), as: UTF8.self))
            return
        }
        print("Kernels:")
        for i in items {
            print("  \(i["file"]!)")
            print("      \(i["doc"]!)")
            if let p = i["params"], !p.isEmpty { print("      params: \(p)") }
        }
        print("GPU presets:")
        for g in GPUModel.presets {
            print("  \(g.name.padding(toLength: 11, withPad: " ", startingAt: 0)) \(g.description)" + (g.name == GPUModel.defaultPreset ? " (default)" : ""))
        }
    }
}
