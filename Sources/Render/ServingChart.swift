import Analysis
import Foundation
import Simulator

/// A batch sweep of `gpusim infer`: decode throughput (tokens per second for the whole batch)
/// and time per output token against the batch size, on a log2 axis. Batches that do not fit
/// in HBM are marked, not drawn; a dashed line marks the first batch whose decode step's
/// heaviest kernel (by FLOPs: the GEMMs) is compute-bound.
public enum ServingChart {
    public static func svg(_ runs: [Inference], title: String) -> String {
        let W = 760.0, panel = 190.0, left = 84.0, right = 30.0, top = 78.0, gap = 56.0
        let H = top + 2 * panel + gap + 56
        let f = SVG.f, esc = SVG.esc
        var o = SVG.open(width: W, height: H, title: title, titleY: 24)
        let batches = runs.map { Double($0.request.batch) }
        let lo = log2(batches.min() ?? 1), hi = max(log2(batches.max() ?? 2), lo + 1)
        func X(_ b: Double) -> Double { left + 20 + (log2(b) - lo) / (hi - lo) * (W - left - right - 40) }
        let ran = runs.filter { $0.tpot != nil }
        let most = runs.first?.max_batch.map { "; the largest batch that fits: \(group($0))" } ?? ""
        o.append("<text x=\"\(f(W / 2))\" y=\"44\" text-anchor=\"middle\" fill=\"#666666\">prompt \(runs.first?.request.prompt ?? 0), \(runs.first?.request.generate ?? 0) tokens generated per sequence\(most)</text>")
        o.append("<text x=\"\(f(W / 2))\" y=\"58\" text-anchor=\"middle\" fill=\"#666666\">decode steps timed as GPU kernels back to back (a CUDA graph)</text>")
        func panelFrame(_ y0: Double, _ label: String, _ maxV: Double, _ fmt: (Double) -> String) {
            o.append("<rect x=\"\(f(left))\" y=\"\(f(y0))\" width=\"\(f(W - left - right))\" height=\"\(f(panel))\" fill=\"none\" stroke=\"#cccccc\"/>")
            o.append("<text x=\"\(f(left))\" y=\"\(f(y0 - 8))\">\(esc(label))</text>")
            for k in 0...4 {
                let y = y0 + panel - panel * Double(k) / 4
                o.append("<line class=\"grid\" x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(W - right))\" y2=\"\(f(y))\" stroke=\"#eeeeee\"/>")
                o.append("<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(fmt(maxV * Double(k) / 4))</text>")
            }
        }
        func series(_ y0: Double, _ maxV: Double, _ value: (Inference) -> Double, _ color: String, _ cls: String, _ tip: (Inference) -> String) {
            func Y(_ v: Double) -> Double { y0 + panel - v / maxV * panel }
            let path = ran.enumerated().map { "\($0.offset == 0 ? "M" : "L") \(f(X(Double($0.element.request.batch)))) \(f(Y(value($0.element))))" }.joined(separator: " ")
            if !path.isEmpty { o.append("<path class=\"\(cls)\" d=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>") }
            for r in ran {
                o.append("<circle class=\"\(cls)-point\" cx=\"\(f(X(Double(r.request.batch))))\" cy=\"\(f(Y(value(r))))\" r=\"3.5\" fill=\"\(color)\"><title>\(esc(tip(r)))</title></circle>")
            }
        }
        // Top: decode tokens per second; bottom: time per output token.
        let tps = ran.compactMap(\.decode_tokens_per_second), tpot = ran.compactMap(\.tpot)
        let tpsMax = niceCeiling(tps.max() ?? 1), tpotMax = niceCeiling(tpot.max() ?? 1e-3)
        panelFrame(top, "decode throughput (tokens/s, whole batch)", tpsMax) { RooflineChart.tick($0) }
        panelFrame(top + panel + gap, "time per output token", tpotMax) { engineeringSeconds($0) }
        // The batches beyond HBM, and the first whose GEMMs are compute-bound.
        for r in runs where r.tpot == nil {
            let x = X(Double(r.request.batch))
            o.append("<text class=\"no-fit\" x=\"\(f(x))\" y=\"\(f(top + panel / 2))\" text-anchor=\"middle\" fill=\"#cc0000\">does not fit</text>")
        }
        if let first = ran.first(where: { $0.decode_kernels.max { $0.flops < $1.flops }?.bound == .compute }),
           let name = first.decode_kernels.max(by: { $0.flops < $1.flops })?.name {
            let x = X(Double(first.request.batch))
            o.append("<line class=\"crossover\" x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + 2 * panel + gap))\" stroke=\"#cc0000\" stroke-dasharray=\"5 4\"/>")
            let label = "\(name) compute-bound from batch \(first.request.batch)", w = 6.2 * Double(label.count)
            let lx = x + 6 + w > W - right ? x - 6 : x + 6
            o.append("<text class=\"crossover-label\" x=\"\(f(lx))\" y=\"\(f(top + panel + gap - 10))\"\(lx < x ? " text-anchor=\"end\"" : "") fill=\"#cc0000\">\(esc(label))</text>")
        }
        series(top, tpsMax, { $0.decode_tokens_per_second ?? 0 }, "#3d85c6", "throughput") { r in
            "batch \(r.request.batch): \(RooflineChart.tick(r.decode_tokens_per_second ?? 0)) tokens/s, \(r.decode.bound.rawValue)-bound"
        }
        series(top + panel + gap, tpotMax, { $0.tpot ?? 0 }, "#e69138", "latency") { r in
            "batch \(r.request.batch): \(engineeringSeconds(r.tpot ?? 0)) per token, time to first token \(engineeringSeconds(r.ttft ?? 0))"
        }
        for r in runs {
            let x = X(Double(r.request.batch))
            o.append("<text x=\"\(f(x))\" y=\"\(f(top + 2 * panel + gap + 16))\" text-anchor=\"middle\">\(r.request.batch)</text>")
        }
        o.append("<text x=\"\(f((left + W - right) / 2))\" y=\"\(f(H - 12))\" text-anchor=\"middle\">batch size (sequences decoded together)</text>")
        o.append("</svg>")
        return o.joined(separator: "\n") + "\n"
    }

    /// 1, 2 or 5 times a power of ten at or above v.
    static func niceCeiling(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        let p = pow(10, floor(log10(v)))
        for m in [1.0, 2, 2.5, 5, 10] where m * p >= v * 1.0001 { return m * p }
        return 10 * p
    }
}
