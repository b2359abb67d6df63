import Foundation
import Simulator

/// Where a run sits on its GPU's roofline: arithmetic intensity (FLOPs per HBM byte) against
/// attained FLOP rate, with the sloped memory ceiling and flat compute ceilings.
public struct Roofline: Sendable, Encodable {
    public struct Point: Sendable, Encodable {
        public var label: String
        public var flops: Int64
        public var hbm_bytes: Int64
        public var intensity: Double
        /// FLOPs per byte through L2 (presets with an L2 model): the same work on L2's ceiling.
        public var l2_bytes: Int64?
        public var l2_intensity: Double?
        /// FLOPs per time unit actually achieved in the model's time.
        public var attained: Double
        public var bound: Bound
    }

    public var gpu: String
    public var time_unit: GPUModel.Units
    /// Peak rates per time unit (datasheet peaks; the time model uses the achievable fractions).
    public var peak_matmul: Double
    public var peak_vector: Double
    /// The tensor cores' lower roof on the warp-level `mma.sync` path, when the run used it on
    /// a preset with two paths (docs/model.md, Compute).
    public var peak_mma_sync: Double?
    public var bandwidth: Double
    /// L2 bandwidth, on presets whose L2 has a ceiling of its own.
    public var l2_bandwidth: Double?
    /// Intensity where the memory ceiling meets the tensor (matmul) ceiling.
    public var ridge: Double
    public var ridge_vector: Double
    public var total: Point
    public var phases: [Point]

    public init(summary s: RunSummary, gpu g: GPUModel) {
        gpu = g.name
        time_unit = s.time.unit
        peak_matmul = g.matmulFlops
        peak_vector = g.vectorFlops
        peak_mma_sync = (s.flops.mma_sync ?? 0) > 0 ? g.warpMatmulFlops : nil
        bandwidth = g.hbmBandwidth
        l2_bandwidth = g.l2Bandwidth
        ridge = g.matmulFlops / g.hbmBandwidth
        ridge_vector = g.vectorFlops / g.hbmBandwidth
        // The verdict is the summary's (memory time against compute time, the one definition of
        // bound), not the intensity against one ridge: vector work has its own, lower ceiling.
        func point(_ label: String, _ flops: Int64, _ bytes: Int64, l2: Int64?, _ time: Double, _ bound: Bound) -> Point {
            func ai(_ b: Int64) -> Double { b == 0 ? .infinity : Double(flops) / Double(b) }
            let l2 = g.l2Bandwidth == nil ? nil : l2
            return Point(label: label, flops: flops, hbm_bytes: bytes, intensity: ai(bytes), l2_bytes: l2, l2_intensity: l2.map(ai),
                         attained: time > 0 ? Double(flops) / time : 0, bound: bound)
        }
        total = point(s.kernel, s.flops.total, s.hbm.total_bytes, l2: s.l2?.bytes, s.time.total, s.bound)
        phases = s.phases.map { point("line \($0.line): \($0.label)", $0.flops, $0.read_bytes + $0.write_bytes, l2: $0.l2_bytes, $0.time_total, $0.bound) }
    }
}
