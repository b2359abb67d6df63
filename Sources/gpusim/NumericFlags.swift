import ArgumentParser
import Foundation
import KernLang
import Numerics
import Simulator

/// Options of runs that compute values (`run --numeric`, `verify`).
struct NumericFlags: ParsableArguments {
    @Option(help: "Seed of the random inputs (standard normal, the same per tensor name in every kernel).")
    var seed: UInt64 = 0

    @Option(name: .customLong("input"), help: "NAME=FILE.npy: take an input tensor's values from a NumPy file (repeatable).")
    var inputs: [String] = []

    @Option(help: "Arithmetic precision: f32 (as a GPU computes) or f64 (a reference).")
    var accumulate: String = "f32"

    @Option(help: "Threads for the blocks of parallel loops and for large matrix products (default: every core); the values are the same for any number.")
    var threads: Int?

    func validate() throws {
        guard accumulate == "f32" || accumulate == "f64" else { throw ValidationError("--accumulate: expected f32 or f64, got '\(accumulate)'") }
        if let threads, threads < 1 { throw ValidationError("--threads: expected a positive number of threads, got \(threads)") }
        for i in inputs where !i.contains("=") { throw ValidationError("--input: expected NAME=FILE.npy, got '\(i)'") }
    }

    func options() throws -> NumericOptions {
        var o = NumericOptions()
        o.seed = seed
        o.accumulate64 = accumulate == "f64"
        if let threads { o.threads = threads }
        for spec in inputs {
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            do { o.inputs[parts[0]] = try NPY.parse(InputFile.read(parts[1]), path: parts[1]) } catch {
                printError("gpusim: error: --input \(parts[0]): \(error)")
                throw ExitCode(1)
            }
        }
        return o
    }
}

/// Writes `--output NAME=FILE.npy` files (through a temporary name) after a numeric run.
func writeOutputs(_ specs: [String], _ outputs: [String: OutputTensor]) throws {
    for spec in specs {
        let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw ValidationError("--output: expected NAME=FILE.npy, got '\(spec)'") }
        guard let out = outputs[parts[0]] else {
            printError("gpusim: error: --output \(parts[0]): the kernel has no output tensor '\(parts[0])' (outputs: \(outputs.keys.sorted().joined(separator: ", ")))")
            throw ExitCode(1)
        }
        let data = NPY.encode(shape: out.shape.map(Int.init), values: out.values.map(Float.init))
        try writeFile(parts[1], data)
    }
}
