import Foundation
import KernLang
@testable import Simulator
@_exported import TestSupport

func programFromText(_ text: String, path: String = "test.kern") throws -> CheckedProgram {
    switch Checker.check(file: SourceFile(path: path, text: text), loader: { _, _ in nil }) {
    case .success(let p): return p
    case .failure(let d): throw d
    }
}

func run(_ relative: String, gpu: String = "seed-a100", _ params: [String: ParamValue] = [:], sink: EventSink? = nil) throws -> RunSummary {
    try Interpreter(program: try program(relative), options: RunOptions(gpu: GPUModel.preset(named: gpu)!, overrides: params), sink: sink).run()
}

func temporaryPath(_ name: String) -> String {
    NSTemporaryDirectory() + "gpusim-test-\(getpid())-\(UUID().uuidString.prefix(8))-\(name)"
}
