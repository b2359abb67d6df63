import Foundation
import KernLang
@testable import Simulator

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func readRelative(_ relative: String) throws -> SourceFile {
    let text = String(decoding: try Data(contentsOf: packageRoot.appendingPathComponent(relative)), as: UTF8.self)
    return SourceFile(path: relative, text: text)
}

/// Loads a kernel by its path relative to the package root (the path the traces record).
func program(_ relative: String) throws -> CheckedProgram {
    let f = try readRelative(relative)
    let r = Checker.check(file: f) { imp, from in
        let dir = (from.path as NSString).deletingLastPathComponent
        return try? readRelative(dir.isEmpty ? imp : dir + "/" + imp)
    }
    switch r {
    case .success(let p): return p
    case .failure(let d): throw d
    }
}

func programFromText(_ text: String, path: String = "test.kern") throws -> CheckedProgram {
    switch Checker.check(file: SourceFile(path: path, text: text), loader: { _, _ in nil }) {
    case .success(let p): return p
    case .failure(let d): throw d
    }
}

func run(_ relative: String, gpu: String = "seed-a100", _ params: [String: ParamValue] = [:], sink: EventSink? = nil) throws -> RunSummary {
    try Interpreter(program: try program(relative), options: RunOptions(gpu: GPUModel.preset(named: gpu)!, overrides: params), sink: sink).run()
}

func shippedKernels() -> [String] {
    let dir = packageRoot.appendingPathComponent("Kernels")
    let e = FileManager.default.enumerator(atPath: dir.path)
    var out: [String] = []
    while let p = e?.nextObject() as? String { if p.hasSuffix(".kern") { out.append("Kernels/" + p) } }
    return out.sorted()
}

func temporaryPath(_ name: String) -> String {
    NSTemporaryDirectory() + "gpusim-test-\(getpid())-\(UUID().uuidString.prefix(8))-\(name)"
}
