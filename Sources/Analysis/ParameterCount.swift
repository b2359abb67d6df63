import Foundation
import KernLang
import Simulator

/// Model parameters (the `weight` tensors of a kernel) and KV-cache bytes per token (the
/// `cache` tensors, whose token axis is the second-to-last dimension).
public struct ParameterCount: Sendable, Encodable {
    public struct Entry: Sendable, Encodable {
        public var name: String
        public var shape: [Int64]
        public var dtype: String
        public var count: Int64
        public var bytes: Int64
    }

    public var kernel: String
    public var weights: [Entry]
    public var total: Int64
    public var totalBytes: Int64
    public var caches: [Entry]
    public var kvCacheBytesPerToken: Int64?
    public var cacheTokens: Int64?

    public init(program: CheckedProgram, gpu: GPUModel, overrides: [String: ParamValue]) throws(SimulationError) {
        // Counting does not need the model to fit: the preset's HBM capacity is not checked here.
        var unbounded = gpu
        unbounded.hbmBytes = nil
        let tensors = try Interpreter(program: program, options: RunOptions(gpu: unbounded, overrides: overrides)).resolveTensors()
        kernel = program.entryKernel.name
        func entry(_ t: (name: String, role: TensorRole, shape: [Int64], dtype: DType, bytes: Int64)) -> Entry {
            Entry(name: t.name, shape: t.shape, dtype: t.dtype.rawValue, count: t.shape.reduce(1, *), bytes: t.bytes)
        }
        weights = tensors.filter { $0.role == .weight }.map(entry)
        caches = tensors.filter { $0.role == .cache }.map(entry)
        total = weights.reduce(0) { $0 + $1.count }
        totalBytes = weights.reduce(0) { $0 + $1.bytes }
        if let first = caches.first, first.shape.count >= 2 {
            let tokens = first.shape[first.shape.count - 2]
            cacheTokens = tokens
            kvCacheBytesPerToken = caches.reduce(0) { $0 + $1.bytes } / tokens
        }
    }
}
