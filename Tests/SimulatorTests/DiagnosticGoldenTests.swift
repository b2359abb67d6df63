import Foundation
import Testing
import KernLang
@testable import Simulator

/// Each file under Diagnostics/ is a bad kernel whose expected errors are written at its end as
/// `# expect: LINE:COL: MESSAGE`. The file is checked, and run at its defaults on a100-80gb
/// when it checks, exactly as `gpusim check --run` does; the errors must match, in order.
/// Regenerate an expectation only after reading the new message: a drift is a failure.
@Suite struct DiagnosticGoldenTests {
    static let files: [String] = {
        let dir = packageRoot.appendingPathComponent("Tests/SimulatorTests/Diagnostics")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".kern") }.sorted()
    }()

    @Test func thereAreAtLeastForty() {
        #expect(Self.files.count >= 40)
    }

    @Test(arguments: files)
    func golden(_ name: String) throws {
        let relative = "Tests/SimulatorTests/Diagnostics/" + name
        let f = try readRelative(relative)
        let expected = f.lineStarts.indices.map { f.lineText($0 + 1) }.filter { $0.hasPrefix("# expect: ") }.map { String($0.dropFirst(10)) }
        #expect(!expected.isEmpty, "no expectations in \(name)")
        var got: [String] = []
        switch Checker.check(file: f, loader: { _, _ in nil }) {
        case .failure(let list):
            got = list.sorted.filter { $0.severity == .error }.map { "\($0.span!.line):\($0.span!.column): \($0.message)" }
        case .success(let program):
            let result = Result { () throws(SimulationError) in
                try Interpreter(program: program, options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!)).run()
            }
            switch result {
            case .failure(.kernel(let d)): got = ["\(d.span!.line):\(d.span!.column): \(d.message)"]
            case .failure(let e): got = ["\(e)"]
            case .success: break
            }
        }
        #expect(got == expected)
    }
}
