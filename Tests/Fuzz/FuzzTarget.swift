// libFuzzer entry point: lexer, parser, checker and bounded runs (shape-only and with values) of arbitrary bytes.
// Built by scripts/fuzz.sh (all library sources compiled as one module with -sanitize=fuzzer).
import Foundation

let fuzzGPU = GPUModel.preset(named: "seed-a100")!

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let file = SourceFile(path: "fuzz.kern", text: text)
    let (unit, _) = Parser.parse(file)
    _ = Formatter.format(unit)
    guard case .success(let program) = Checker.check(file: file, loader: { _, _ in nil }) else { return 0 }
    // Small limits: the point is that nothing traps, hangs or grows without bound.
    var gpu = fuzzGPU
    gpu.hbmBytes = 1 << 30
    let options = RunOptions(gpu: gpu, maxEvents: 10_000, maxSteps: 20_000)
    let collector = CountingSink()
    _ = try? Interpreter(program: program, options: options, sink: collector).run()
    _ = try? Interpreter(program: program, options: options).run()
    // With values too, under a small HBM cap so that every array stays small.
    var small = gpu
    small.hbmBytes = 1 << 20
    _ = try? Interpreter(program: program, options: RunOptions(gpu: small, maxEvents: 10_000, maxSteps: 5_000), numeric: NumericOptions()).run()
    return 0
}

final class CountingSink: EventSink {
    var n = 0
    func record(_ e: Event) { n += 1 }
}
