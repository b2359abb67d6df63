import Analysis
import ArgumentParser
import Foundation
import Render
import Simulator

struct TimelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline",
        abstract: "Chart SRAM occupancy and cumulative HBM traffic over simulated time.",
        discussion: prose("""
        Examples:
          gpusim timeline flash.jsonl -o sram.svg
          gpusim timeline standard --gpu seed-a100 --N 512 -o overflow.svg
        """))

    @Argument(help: "A JSONL trace or a .kern file.")
    var input: String

    @Option(name: .shortAndLong, help: "The SVG file to write.")
    var output: String

    @OptionGroup var gpuOptions: GPUOptions

    @Argument(parsing: .allUnrecognized, help: "Kernel parameters: --NAME VALUE ...")
    var params: [String] = []

    func run() throws {
        let timeline = Timeline()
        let (summary, _) = try summaryOf(input, params: params, gpu: gpuOptions, sink: timeline)
        let unknown = Set(["sram", "hbm"].filter { !summary.knows($0) })
        let svg = TimelineChart.svg(timeline, capacity: summary.sram.capacity_bytes, unit: summary.time.unit,
                                    title: "\(summary.kernel) on \(summary.gpu): \(summary.measured == nil ? "SRAM and HBM traffic" : "DRAM traffic, measured,") over time",
                                    unknown: unknown)
        try writeFile(output, svg)
        if let m = summary.measured {
            print("\(output): \(summary.counts.launches) measured launches (\(m.tool)), DRAM \(summary.knows("hbm") ? fmtBytes(summary.hbm.total_bytes) : "unknown"), SRAM unknown")
            return
        }
        print("\(output): \(timeline.samples.count) samples, \(summary.sram.overflow_count) overflow(s), peak SRAM \(fmtBytes(summary.sram.peak_bytes)) of \(fmtBytes(summary.sram.capacity_bytes))")
    }
}
