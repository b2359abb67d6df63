import Analysis
import ArgumentParser
import Foundation
import Render
import Simulator

struct ComplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "complexity",
        abstract: "Derive closed-form HBM traffic, FLOPs and peak SRAM from a kernel's loop nest, checked against simulation.",
        discussion: prose("""
        Formulas are in bytes (elements x bytes per element on the chosen GPU) and in the kernel's
        own parameters; tile counts appear as ceil(N/Br), ragged remainders as (N mod Br).
        Reads are what the SMs request (the algorithm's IO complexity); on presets with an L2
        model the HBM reads of `gpusim run` are lower where blocks of a wave share tiles.
        Example:
          gpusim complexity Kernels/flash_attention.kern --gpu seed-a100
        """))

    @Argument(help: "The .kern file.")
    var kernel: String

    @OptionGroup var gpuOptions: GPUOptions

    @Flag(help: "Print as JSON.")
    var json = false

    @Argument(parsing: .allUnrecognized, help: "Kernel parameters: --NAME VALUE ... (dtypes fix the formulas' byte sizes)")
    var params: [String] = []

    struct Check: Encodable { var params: [String: ParamValue]; var metric: String; var formula: Double; var simulated: Double; var ok: Bool }
    /// A sample size the kernel cannot run at (a requirement, SRAM or HBM limit), and why.
    struct Unchecked: Encodable { var params: [String: ParamValue]; var reason: String }

    func run() throws {
        let gpu = try gpuOptions.model()
        let program = try loadProgram(kernel)
        let overrides = try parseKernelParams(params)
        let base: [String: ParamValue]
        do { base = try Interpreter(program: program, options: RunOptions(gpu: gpu, overrides: overrides)).resolveParams() } catch { throw failRun(error) }
        let c: IOComplexity
        do { c = try IOComplexity.derive(program: program, gpu: gpu, params: base) } catch {
            printError("gpusim: error: no closed form: \(error)")
            throw ExitCode(1)
        }
        // Samples: the defaults, twice the size parameter, and a ragged size.
        var checks: [Check] = []
        var unchecked: [Unchecked] = []
        if let x = c.sizeParameter, case .int(let n)? = base[x] {
            for v in [n, 2 * n, 2 * n + 37] {
                var o = overrides
                o[x] = .int(v)
                let opts = RunOptions(gpu: gpu, overrides: o)
                let s: RunSummary, p: [String: ParamValue]
                do { s = try Interpreter(program: program, options: opts).run(); p = try Interpreter(program: program, options: opts).resolveParams() } catch {
                    let reason = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
                    unchecked.append(Unchecked(params: [x: .int(v)], reason: reason.replacingOccurrences(of: "gpusim: error: ", with: "")))
                    continue
                }
                let values = c.atomValues(p)
                for (metric, formula, simulated) in [("reads", c.readBytes.evaluate(values), Double(s.requestedReadBytes)),
                                                     ("writes", c.writeBytes.evaluate(values), Double(s.requestedWriteBytes)),
                                                     ("FLOPs", c.flops.evaluate(values), Double(s.flops.total)),
                                                     ("peak SRAM", c.peak(values), Double(s.sram.peak_bytes))] {
                    checks.append(Check(params: [x: .int(v)], metric: metric, formula: formula ?? .nan, simulated: simulated, ok: formula == simulated))
                }
            }
        }
        if json {
            struct Out: Encodable { var reads: String; var writes: String; var flops: String; var peak_sram: [String]; var classes: [String: String]; var checks: [Check]; var unchecked: [Unchecked] }
            let out = Out(reads: c.readBytes.description, writes: c.writeBytes.description, flops: c.flops.description, peak_sram: c.peakCandidates.map(\.description),
                          classes: ["reads": c.asymptotic(c.readBytes), "writes": c.asymptotic(c.writeBytes), "flops": c.asymptotic(c.flops)], checks: checks, unchecked: unchecked)
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try enc.encode(out), as: UTF8.self))
            if checks.contains(where: { !$0.ok }) { throw ExitCode(1) }
            return
        }
        print("\(program.entryKernel.name) on \(gpu.name) (bytes; \(gpu.elementBytes.map { "\($0) bytes per element" } ?? "dtype sizes"))")
        print("  HBM reads   = \(c.readBytes)\n                \(c.asymptotic(c.readBytes))")
        print("  HBM writes  = \(c.writeBytes)\n                \(c.asymptotic(c.writeBytes))")
        print("  FLOPs       = \(c.flops)\n                \(c.asymptotic(c.flops))")
        let peak = c.peakCandidates.count == 1 ? c.peakCandidates[0].description : "max(" + c.peakCandidates.map(\.description).joined(separator: ", ") + ")"
        print("  peak SRAM   = \(peak)")
        if !checks.isEmpty || !unchecked.isEmpty {
            print("  checked against simulation:")
            for k in checks {
                let p = k.params.map { "\($0.key)=\($0.value)" }.joined()
                print("    \(p.padding(toLength: 10, withPad: " ", startingAt: 0)) \(k.metric.padding(toLength: 10, withPad: " ", startingAt: 0)) formula \(group(k.formula).leftPadded(20))  simulated \(group(k.simulated).leftPadded(20))  \(k.ok ? "ok" : "MISMATCH")")
            }
            for u in unchecked {
                let p = u.params.map { "\($0.key)=\($0.value)" }.joined()
                print("    \(p.padding(toLength: 10, withPad: " ", startingAt: 0)) not run: \(u.reason)")
            }
        }
        if checks.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }
}
