import Analysis
import Foundation

/// A roofline chart as Nsight Compute draws it: log-log axes, the sloped memory ceilings (HBM,
/// and L2 where the preset gives its bandwidth), flat compute ceilings for tensor-core and
/// CUDA-core FLOPs, and the run's points labelled. With an L2 ceiling each point also shows, as
/// a ring joined to it, the same work per byte through L2 (a hierarchical roofline).
public enum RooflineChart {
    public static func svg(_ r: Roofline, title: String) -> String {
        let W = 760.0, H = 480.0, left = 80.0, right = 30.0, top = 50.0, bottom = 60.0
        // A phase that is the whole run (one grid) would sit on the run's own point: drawn once.
        let points = [r.total] + r.phases.filter { !(r.phases.count == 1 && $0.flops == r.total.flops && $0.hbm_bytes == r.total.hbm_bytes) }
        let finite = points.map(\.intensity).filter { $0.isFinite && $0 > 0 }
        let l2xs = points.compactMap(\.l2_intensity).filter { $0.isFinite && $0 > 0 }
        let xs = finite + l2xs + [r.ridge, r.ridge_vector]
        let xMin = pow(10, floor(log10(xs.min()! / 4))), xMax = pow(10, ceil(log10(xs.max()! * 4)))
        let ys = points.map(\.attained).filter { $0 > 0 } + [r.peak_matmul, r.bandwidth * xMin]
        let yMin = pow(10, floor(log10(ys.min()! / 2))), yMax = pow(10, ceil(log10(r.peak_matmul * 2)))
        func X(_ v: Double) -> Double { left + (log10(v) - log10(xMin)) / (log10(xMax) - log10(xMin)) * (W - left - right) }
        func Y(_ v: Double) -> Double { H - bottom - (log10(v) - log10(yMin)) / (log10(yMax) - log10(yMin)) * (H - top - bottom) }
        let f = SVG.f, esc = SVG.esc
        let unit = r.time_unit == .cycles ? "FLOP/cycle" : "FLOP/s"
        var o = SVG.open(width: W, height: H, title: title, titleY: 24)
        // Decade grid and tick labels.
        var d = xMin
        while d <= xMax * 1.0001 {
            o.append("<line class=\"grid\" x1=\"\(f(X(d)))\" y1=\"\(f(top))\" x2=\"\(f(X(d)))\" y2=\"\(f(H - bottom))\" stroke=\"#eeeeee\"/>")
            o.append("<text x=\"\(f(X(d)))\" y=\"\(f(H - bottom + 16))\" text-anchor=\"middle\">\(tick(d))</text>")
            d *= 10
        }
        d = yMin
        while d <= yMax * 1.0001 {
            o.append("<line class=\"grid\" x1=\"\(f(left))\" y1=\"\(f(Y(d)))\" x2=\"\(f(W - right))\" y2=\"\(f(Y(d)))\" stroke=\"#eeeeee\"/>")
            o.append("<text x=\"\(f(left - 6))\" y=\"\(f(Y(d) + 4))\" text-anchor=\"end\">\(tick(d))</text>")
            d *= 10
        }
        o.append("<text x=\"\(f((left + W - right) / 2))\" y=\"\(f(H - 16))\" text-anchor=\"middle\">arithmetic intensity (FLOP per HBM byte)</text>")
        o.append("<text transform=\"translate(18 \(f((top + H - bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">attained \(unit)</text>")
        // Ceilings: memory slope up to each compute roof.
        var taken: [CGRect] = []
        for (peak, ridge, name, color) in [(r.peak_matmul, r.ridge, "tensor cores", "#cc0000"), (r.peak_vector, r.ridge_vector, "CUDA cores", "#e69138")] where peak != r.peak_matmul || name == "tensor cores" {
            // The mma.sync roof sits too close under the tensor-core one for a label there: its
            // line of text goes under the tensor cores' own, both above the solid roof.
            var lines = ["\(name): \(tick(peak)) \(unit)"]
            if name == "tensor cores", let warp = r.peak_mma_sync { lines.append("dashed: on mma.sync, \(tick(warp)) \(unit)") }
            o.append("<line class=\"ceiling compute\" x1=\"\(f(X(ridge)))\" y1=\"\(f(Y(peak)))\" x2=\"\(f(X(xMax)))\" y2=\"\(f(Y(peak)))\" stroke=\"\(color)\" stroke-width=\"2\"/>")
            for (n, label) in lines.enumerated() {
                let y = Y(peak) - 6 - 14 * Double(lines.count - 1 - n), w = 6.2 * Double(label.count)
                taken.append(CGRect(x: W - right - 4 - w, y: y - 10, width: w, height: 13))
                o.append("<text x=\"\(f(W - right - 4))\" y=\"\(f(y))\" text-anchor=\"end\" fill=\"\(color)\">\(esc(label))</text>")
            }
        }
        if let warp = r.peak_mma_sync {
            o.append("<line class=\"ceiling compute mma-sync\" x1=\"\(f(X(warp / r.bandwidth)))\" y1=\"\(f(Y(warp)))\" x2=\"\(f(X(xMax)))\" y2=\"\(f(Y(warp)))\" stroke=\"#cc0000\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\"/>")
        }
        // The ridge's label under the lowest tensor-core roof, clear of its line.
        let ridgeY = Y(r.peak_mma_sync ?? r.peak_matmul) + 14
        o.append("<text x=\"\(f(X(r.ridge) + 4))\" y=\"\(f(ridgeY))\" fill=\"#666666\">ridge \(String(format: "%.3g", r.ridge))</text>")
        taken.append(CGRect(x: X(r.ridge) + 4, y: ridgeY - 10, width: 60, height: 13))
        let ridgeTop = max(r.ridge, r.ridge_vector)
        o.append("<line class=\"ceiling memory\" x1=\"\(f(X(xMin)))\" y1=\"\(f(Y(r.bandwidth * xMin)))\" x2=\"\(f(X(ridgeTop)))\" y2=\"\(f(Y(r.bandwidth * ridgeTop)))\" stroke=\"#3d85c6\" stroke-width=\"2\"/>")
        // Memory ceilings' labels: HBM's below the start of its line (the line rises away from
        // it), L2's above the top end of its dashed line (the line falls away from it).
        func ceilingLabel(_ text: String, x: Double, y: Double, anchorEnd: Bool, _ color: String) {
            let w = 6.2 * Double(text.count)
            taken.append(CGRect(x: anchorEnd ? x - w : x, y: y - 10, width: w, height: 13))
            o.append("<text class=\"ceiling-label\" x=\"\(f(x))\" y=\"\(f(y))\"\(anchorEnd ? " text-anchor=\"end\"" : "") fill=\"\(color)\">\(text)</text>")
        }
        ceilingLabel("HBM: \(tick(r.bandwidth)) bytes per \(r.time_unit == .cycles ? "cycle" : "s")", x: X(xMin) + 8, y: Y(r.bandwidth * xMin) + 16, anchorEnd: false, "#3d85c6")
        if let l2 = r.l2_bandwidth {
            let top = min(r.peak_matmul / l2, xMax)
            o.append("<line class=\"ceiling l2\" x1=\"\(f(X(xMin)))\" y1=\"\(f(Y(l2 * xMin)))\" x2=\"\(f(X(top)))\" y2=\"\(f(Y(l2 * top)))\" stroke=\"#8e7cc3\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\"/>")
            ceilingLabel("L2: \(tick(l2)) bytes per s", x: X(top) - 6, y: Y(l2 * top) - 4, anchorEnd: true, "#8e7cc3")
        }
        for (i, p) in points.enumerated() where p.intensity.isFinite && p.attained > 0 {
            guard let l2 = p.l2_intensity, l2.isFinite, l2 > 0 else { continue }
            let color = i == 0 ? "#000000" : "#6aa84f"
            o.append("<line class=\"l2-link\" x1=\"\(f(X(p.intensity)))\" y1=\"\(f(Y(p.attained)))\" x2=\"\(f(X(l2)))\" y2=\"\(f(Y(p.attained)))\" stroke=\"\(color)\" stroke-opacity=\"0.4\"/>")
            o.append("<circle class=\"point-l2\" cx=\"\(f(X(l2)))\" cy=\"\(f(Y(p.attained)))\" r=\"\(i == 0 ? 5 : 3.5)\" fill=\"white\" stroke=\"\(color)\" stroke-width=\"1.5\"><title>\(esc(p.label)) through L2</title></circle>")
        }
        for p in points where p.intensity.isFinite && p.attained > 0 { taken.append(CGRect(x: X(p.intensity) - 6, y: Y(p.attained) - 6, width: 12, height: 12)) }
        for (i, p) in points.enumerated() where p.intensity.isFinite && p.attained > 0 {
            let color = i == 0 ? "#000000" : "#6aa84f"
            o.append("<circle class=\"point\" cx=\"\(f(X(p.intensity)))\" cy=\"\(f(Y(p.attained)))\" r=\"\(i == 0 ? 6 : 4)\" fill=\"\(color)\"><title>\(esc(p.label))</title></circle>")
            // Labels go right of their point, moved down past any label or ceiling text already
            // placed (boxes estimated at 6.2 px per character), with a leader line when moved.
            // Long labels (a launch's whole argument list) are cut; the point's tooltip has all of it.
            let label = p.label.count > 48 ? String(p.label.prefix(47)) + "…" : p.label
            let w = 6.2 * Double(label.count), px = X(p.intensity), py = Y(p.attained)
            var x = px + 8, y = py + 4
            if x + w > W - right { x = max(left + 4, W - right - w); y = py + 18 }
            while taken.contains(where: { $0.intersects(CGRect(x: x, y: y - 10, width: w, height: 13)) }) { y += 13 }
            taken.append(CGRect(x: x, y: y - 10, width: w, height: 13))
            if y - (py + 4) > 6 {
                o.append("<line class=\"leader\" x1=\"\(f(px))\" y1=\"\(f(py))\" x2=\"\(f(min(max(px, x), x + w)))\" y2=\"\(f(y - 11))\" stroke=\"\(color)\" stroke-opacity=\"0.5\"/>")
            }
            o.append("<text class=\"point-label\" x=\"\(f(x))\" y=\"\(f(y))\" fill=\"\(color)\">\(esc(label))</text>")
        }
        o.append("</svg>")
        return o.joined(separator: "\n") + "\n"
    }

    public static func tick(_ v: Double) -> String {
        let units: [(Double, String)] = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        for (s, u) in units where v >= s { return String(format: "%g%@", (v / s * 100).rounded() / 100, u) }
        return String(format: "%g", v)
    }
}
