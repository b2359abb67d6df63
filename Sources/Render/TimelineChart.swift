import Analysis
import Foundation
import Simulator

/// Two stacked panels over simulated time: SRAM occupancy with the capacity line and overflow
/// marks, and cumulative HBM traffic.
public enum TimelineChart {
    /// `unknown` names what the run did not measure ("sram", "hbm"): its panel says so instead of drawing zeros.
    public static func svg(_ t: Timeline, capacity: Int64, unit: GPUModel.Units, title: String, unknown: Set<String> = []) -> String {
        let W = 820.0, panel = 200.0, left = 80.0, right = 44.0, top = 46.0, gap = 50.0
        let tMax = max(t.samples.last?.time ?? 1, 1e-12)
        let sMax = Double(max(capacity, t.samples.map(\.sram).max() ?? 0)) * 1.1
        let hMax = Double(max(t.samples.last?.traffic ?? 1, 1))
        func X(_ v: Double) -> Double { left + v / tMax * (W - left - right) }
        let f = SVG.f, esc = SVG.esc
        let H = top + 2 * panel + gap + 50
        var o = SVG.open(width: W, height: H, title: title, titleY: 22)
        func panelFrame(_ y0: Double, _ label: String, _ maxV: Double) {
            o.append("<rect x=\"\(f(left))\" y=\"\(f(y0))\" width=\"\(f(W - left - right))\" height=\"\(f(panel))\" fill=\"none\" stroke=\"#cccccc\"/>")
            o.append("<text x=\"\(f(left))\" y=\"\(f(y0 - 6))\">\(esc(label))</text>")
            for k in 0...4 {
                let v = maxV * Double(k) / 4, y = y0 + panel - panel * Double(k) / 4
                o.append("<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(fmtBytes(Int64(v)))</text>")
            }
        }
        func unmeasured(_ y0: Double, _ label: String) {
            o.append("<rect x=\"\(f(left))\" y=\"\(f(y0))\" width=\"\(f(W - left - right))\" height=\"\(f(panel))\" fill=\"#f6f6f6\" stroke=\"#cccccc\"/>")
            o.append("<text x=\"\(f(left))\" y=\"\(f(y0 - 6))\">\(esc(label))</text>")
            o.append("<text class=\"unknown\" x=\"\(f(W / 2))\" y=\"\(f(y0 + panel / 2))\" text-anchor=\"middle\" fill=\"#666666\">unknown: not measured</text>")
        }
        // SRAM panel: a step line.
        let y1 = top
        if unknown.contains("sram") { unmeasured(y1, "SRAM occupancy") } else {
        panelFrame(y1, "SRAM occupancy", sMax)
        func Ys(_ v: Int64) -> Double { y1 + panel - Double(v) / sMax * panel }
        var path = "M \(f(X(0))) \(f(Ys(0)))"
        for s in t.samples { path += " H \(f(X(s.time))) V \(f(Ys(s.sram)))" }
        o.append("<path class=\"sram\" d=\"\(path)\" fill=\"none\" stroke=\"#e69138\" stroke-width=\"1.2\"/>")
        o.append("<line class=\"capacity\" x1=\"\(f(left))\" y1=\"\(f(Ys(capacity)))\" x2=\"\(f(W - right))\" y2=\"\(f(Ys(capacity)))\" stroke=\"#cc0000\" stroke-dasharray=\"6 4\"/>")
        o.append("<text x=\"\(f(W - right - 4))\" y=\"\(f(Ys(capacity) - 4))\" text-anchor=\"end\" fill=\"#cc0000\">capacity \(fmtBytes(capacity))</text>")
        for ov in t.overflows.prefix(200) {
            o.append("<path class=\"overflow\" d=\"M \(f(X(ov.time) - 4)) \(f(y1 + 8)) l 8 0 l -4 7 z\" fill=\"#cc0000\"><title>overflow by \(fmtBytes(ov.bytes)) at \(ov.loc)</title></path>")
        }
        }
        // Traffic panel.
        let y2 = top + panel + gap
        if unknown.contains("hbm") { unmeasured(y2, "cumulative HBM traffic") } else {
        panelFrame(y2, "cumulative HBM traffic", hMax)
        func Yh(_ v: Int64) -> Double { y2 + panel - Double(v) / hMax * panel }
        var tp = "M \(f(X(0))) \(f(Yh(0)))"
        for s in t.samples { tp += " L \(f(X(s.time))) \(f(Yh(s.traffic)))" }
        o.append("<path class=\"traffic\" d=\"\(tp)\" fill=\"none\" stroke=\"#3d85c6\" stroke-width=\"1.5\"/>")
        }
        for k in 0...4 {
            let v = tMax * Double(k) / 4
            let label = unit == .cycles ? RooflineChart.tick(v) + " cycles" : engineeringSeconds(v)
            o.append("<text x=\"\(f(X(v)))\" y=\"\(f(y2 + panel + 16))\" text-anchor=\"middle\">\(label)</text>")
        }
        o.append("</svg>")
        return o.joined(separator: "\n") + "\n"
    }
}
