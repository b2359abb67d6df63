import Analysis
import ArgumentParser
import Foundation
import Render
import Simulator

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page: summary, roofline, dataflow graph, timeline and traffic tables.",
        discussion: prose("""
        Example:
          gpusim report flash --gpu seed-a100 --N 2048 -o report.html
        """))

    @Argument(help: "The .kern file.")
    var kernel: String

    @Option(name: .shortAndLong, help: "The HTML file to write.")
    var output: String

    @OptionGroup var gpuOptions: GPUOptions

    @Argument(parsing: .allUnrecognized, help: "Kernel parameters: --NAME VALUE ...")
    var params: [String] = []

    func run() throws {
        let program = try loadProgram(kernel)
        let gpu = try gpuOptions.model()
        let options = RunOptions(gpu: gpu, overrides: try parseKernelParams(params), cache: gpuOptions.cache)
        let profile = StatementProfile(), timeline = Timeline()
        let summary: RunSummary
        do { summary = try Runner.run(program, options: options, extraSink: Tee(profile, timeline)) } catch { throw failRun(error) }
        let graphSVG: String
        // A model's graph is built once: drawn, and its launches listed above it.
        let model = ModelGraph.applies(to: program) ? ModelGraph(program: program, profile: profile, summary: summary) : nil
        do {
            let dot = model.map { DotWriter.dot($0) } ?? DotWriter.dot(program: program, profile: profile, summary: summary)
            graphSVG = String(decoding: try Graphviz.render(dot: dot, format: "svg"), as: UTF8.self)
        } catch {
            printError("gpusim: error: \(error)")
            throw ExitCode(1)
        }
        let html = HTMLReport.html(summary: summary, gpu: gpu,
                                   roofline: RooflineChart.svg(Roofline(summary: summary, gpu: gpu), title: "roofline"),
                                   graph: graphSVG,
                                   timeline: TimelineChart.svg(timeline, capacity: summary.sram.capacity_bytes, unit: summary.time.unit, title: "SRAM and HBM traffic over time"),
                                   launches: model?.nodes.compactMap(\.launch) ?? [])
        try writeFile(output, html)
        print("wrote \(output) (\(fmtBytes(Int64(html.utf8.count))))")
    }
}
