import Analysis
import ArgumentParser
import Foundation
import Render
import Simulator

struct RooflineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roofline",
        abstract: "Place a kernel (and each of its phases) on the GPU's roofline.",
        discussion: prose("""
        Phases are the entry kernel's top-level loop nests and launches.
        Examples:
          gpusim roofline tiled_2d --gpu a100-80gb --N 4096 -o roofline.svg
          gpusim roofline flash.jsonl --json
        """))

    @Argument(help: "A .kern file or a JSONL trace.")
    var input: String

    @Option(name: .shortAndLong, help: "Write the chart as SVG.")
    var output: String?

    @Flag(help: "Print as JSON.")
    var json = false

    @OptionGroup var gpuOptions: GPUOptions

    @Argument(parsing: .allUnrecognized, help: "Kernel parameters: --NAME VALUE ...")
    var params: [String] = []

    func run() throws {
        let (summary, traceGPU) = try summaryOf(input, params: params, gpu: gpuOptions)
        guard summary.knows("flops") else {
            printError("gpusim: error: '\(input)' is a measured trace without FLOP counts (\(summary.measured?.tool ?? "a profiler") did not count them); a roofline needs them: give the kernel that models it instead")
            throw ExitCode(1)
        }
        let gpu = try traceGPU ?? gpuOptions.model()
        let r = Roofline(summary: summary, gpu: gpu)
        if let output { try writeFile(output, RooflineChart.svg(r, title: "\(summary.kernel) on \(gpu.name)")) }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try enc.encode(r), as: UTF8.self))
            return
        }
        let per = summary.time.unit == .cycles ? "cycle" : "s"
        print("\(summary.kernel) on \(gpu.name): peak \(RooflineChart.tick(r.peak_matmul)) FLOP/\(per) (tensor), \(RooflineChart.tick(r.peak_vector)) FLOP/\(per) (CUDA cores), HBM \(RooflineChart.tick(r.bandwidth)) B/\(per)" + (r.l2_bandwidth.map { ", L2 \(RooflineChart.tick($0)) B/\(per)" } ?? ""))
        print(String(format: "ridge point: %.1f FLOP/byte (tensor), %.1f FLOP/byte (CUDA cores)", r.ridge, r.ridge_vector))
        let l2 = r.l2_bandwidth != nil
        print("                                              FLOPs     HBM bytes   FLOP/byte   attained/\(per)   of peak   bound" + (l2 ? "     FLOP/L2 byte" : ""))
        for p in [r.total] + r.phases {
            let frac = p.attained / r.peak_matmul * 100
            print(p.label.prefix(40).padding(toLength: 40, withPad: " ", startingAt: 0)
                  + RooflineChart.tick(Double(p.flops)).leftPadded(12) + fmtBytes(p.hbm_bytes).leftPadded(14)
                  + String(format: "%12.1f", p.intensity) + RooflineChart.tick(p.attained).leftPadded(17)
                  + String(format: "%9.1f%%", frac) + "   \(p.bound)".padding(toLength: l2 ? 11 : 0, withPad: " ", startingAt: 0)
                  + (l2 ? p.l2_intensity.map { String(format: "%15.1f", $0) } ?? "-".leftPadded(15) : ""))
        }
        for note in boundNotes(summary) { print("bound: " + note) }
        if let output { print("chart: \(output)") }
    }
}
