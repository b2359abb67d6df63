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
        /// FLOPs per time unit actually achieved in the model's time.
        public var attained: Double
        public var bound: Bound
    }

    public var gpu: String
    public var time_unit: GPUModel.Units
    /// Peak rates per time unit (datasheet peaks; the time model uses the achievable fractions).
    public var peak_matmul: Double
    public var peak_vector: Double
    public var bandwidth: Double
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
        bandwidth = g.hbmBandwidth
        ridge = g.matmulFlops / g.hbmBandwidth
        ridge_vector = g.vectorFlops / g.hbmBandwidth
        // The verdict is the summary's (memory time against compute time, the one definition of
        // bound), not the intensity against one ridge: vector work has its own, lower ceiling.
        func point(_ label: String, _ flops: Int64, _ bytes: Int64, _ time: Double, _ bound: Bound) -> Point {
            let ai = bytes == 0 ? .infinity : Double(flops) / Double(bytes)
            return Point(label: label, flops: flops, hbm_bytes: bytes, intensity: ai,
                         attained: time > 0 ? Double(flops) / time : 0, bound: bound)
        }
        total = point(s.kernel, s.flops.total, s.hbm.total_bytes, s.time.total, s.bound)
        phases = s.phases.map { point("line \($0.line): \($0.label)", $0.flops, $0.read_bytes + $0.write_bytes, $0.time_total, $0.bound) }
    }
}
