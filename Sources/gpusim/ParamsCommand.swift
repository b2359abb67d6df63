import Analysis
import ArgumentParser
import Foundation
import Render
import Simulator

struct ParamsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "params",
        abstract: "Count a model's parameters (its weight tensors) and its KV-cache bytes per token.",
        discussion: prose("""
        --exclude shows the count without some weights, e.g. the two-matrix FFN miscount of the
        seeds' lesson (Llama's SwiGLU has three matrices):
          gpusim params Kernels/models/llama2_7b.kern --exclude W3
          gpusim params models/llama2_7b --KVH 8     # grouped-query attention
        """))

    @Argument(help: "The model's .kern file.")
    var model: String

    @Option(help: "Also print the count without this weight tensor (repeatable).")
    var exclude: [String] = []

    @Flag(help: "Print as JSON.")
    var json = false

    @OptionGroup var gpuOptions: GPUOptions

    @Argument(parsing: .allUnrecognized, help: "Model parameters: --NAME VALUE ...")
    var params: [String] = []

    func run() throws {
        let program = try loadProgram(model)
        let gpu = try gpuOptions.model()
        let count: ParameterCount
        let overrides = try parseKernelParams(params)
        do { count = try ParameterCount(program: program, gpu: gpu, overrides: overrides) } catch { throw failRun(error) }
        for name in exclude where !count.weights.contains(where: { $0.name == name }) {
            throw ValidationError("--exclude: '\(name)' is not a weight of \(count.kernel) (weights: \(count.weights.map(\.name).joined(separator: ", ")))")
        }
        if json {
            try printJSON(count)
            return
        }
        print("\(count.kernel): parameters by weight tensor")
        for w in count.weights {
            let share = Double(w.count) / Double(max(count.total, 1)) * 100
            print("  " + w.name.padding(toLength: 16, withPad: " ", startingAt: 0) + ("[" + w.shape.map(String.init).joined(separator: ", ") + "]").padding(toLength: 22, withPad: " ", startingAt: 0)
                  + group(w.count).leftPadded(16) + String(format: "%7.2f %%", share))
        }
        print("  " + "total".padding(toLength: 38, withPad: " ", startingAt: 0) + group(count.total).leftPadded(16) + "  (\(fmtBytes(count.totalBytes)) as stored)")
        for name in exclude {
            let without = count.total - count.weights.filter { $0.name == name }.reduce(0) { $0 + $1.count }
            print("  " + "without \(name)".padding(toLength: 38, withPad: " ", startingAt: 0) + group(without).leftPadded(16))
        }
        if let perToken = count.kvCacheBytesPerToken, let tokens = count.cacheTokens {
            print("KV cache (\(count.caches.map(\.name).joined(separator: ", "))): \(group(perToken)) bytes per token, \(fmtBytes(perToken * tokens)) at \(group(tokens)) tokens")
        }
        if let hbm = gpu.hbmBytes, count.totalBytes > hbm {
            print("the weights alone (\(fmtBytes(count.totalBytes))) do not fit one \(gpu.name) (\(fmtBytes(hbm)) of HBM): runs on it stop at the first weight that does not fit")
        }
    }
}
