import Analysis
import Foundation

/// A roofline chart as Nsight Compute draws it: log-log axes, the sloped memory ceiling, flat
/// compute ceilings for tensor-core and CUDA-core FLOPs, and the run's points labelled.
public enum RooflineChart {
    public static func svg(_ r: Roofline, title: String) -> String {
        let W = 760.0, H = 480.0, left = 80.0, right = 30.0, top = 50.0, bottom = 60.0
        let points = [r.total] + r.phases
        let finite = points.map(\.intensity).filter { $0.isFinite && $0 > 0 }
        let xs = finite + [r.ridge, r.ridge_vector]
        let xMin = pow(10, floor(log10(xs.min()! / 4))), xMax = pow(10, ceil(log10(xs.max()! * 4)))
        let ys = points.map(\.attained).filter { $0 > 0 } + [r.peak_matmul, r.bandwidth * xMin]
        let yMin = pow(10, floor(log10(ys.min()! / 2))), yMax = pow(10, ceil(log10(r.peak_matmul * 2)))
        func X(_ v: Double) -> Double { left + (log10(v) - log10(xMin)) / (log10(xMax) - log10(xMin)) * (W - left - right) }
        func Y(_ v: Double) -> Double { H - bottom - (log10(v) - log10(yMin)) / (log10(yMax) - log10(yMin)) * (H - top - bottom) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        func esc(_ s: String) -> String { s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;") }
        let unit = r.time_unit == .cycles ? "FLOP/cycle" : "FLOP/s"
        var o = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(W))\" height=\"\(Int(H))\" viewBox=\"0 0 \(Int(W)) \(Int(H))\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">"]
        o.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>")
        o.append("<text x=\"\(f(W / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">\(esc(title))</text>")
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
        for (peak, ridge, name, color) in [(r.peak_matmul, r.ridge, "tensor cores", "#cc0000"), (r.peak_vector, r.ridge_vector, "CUDA cores", "#e69138")] where peak != r.peak_matmul || name == "tensor cores" {
            o.append("<line class=\"ceiling compute\" x1=\"\(f(X(ridge)))\" y1=\"\(f(Y(peak)))\" x2=\"\(f(X(xMax)))\" y2=\"\(f(Y(peak)))\" stroke=\"\(color)\" stroke-width=\"2\"/>")
            o.append("<text x=\"\(f(W - right - 4))\" y=\"\(f(Y(peak) - 6))\" text-anchor=\"end\" fill=\"\(color)\">\(name): \(tick(peak)) \(unit)</text>")
        }
        let ridgeTop = max(r.ridge, r.ridge_vector)
        o.append("<line class=\"ceiling memory\" x1=\"\(f(X(xMin)))\" y1=\"\(f(Y(r.bandwidth * xMin)))\" x2=\"\(f(X(ridgeTop)))\" y2=\"\(f(Y(r.bandwidth * ridgeTop)))\" stroke=\"#3d85c6\" stroke-width=\"2\"/>")
        o.append("<text x=\"\(f(X(xMin) + 8))\" y=\"\(f(Y(r.bandwidth * xMin) - 8))\" fill=\"#3d85c6\">HBM: \(tick(r.bandwidth)) bytes per \(r.time_unit == .cycles ? "cycle" : "s")</text>")
        o.append("<text x=\"\(f(X(r.ridge) + 4))\" y=\"\(f(Y(r.peak_matmul) + 14))\" fill=\"#666666\">ridge \(String(format: "%.3g", r.ridge))</text>")
        for (i, p) in points.enumerated() where p.intensity.isFinite && p.attained > 0 {
            let color = i == 0 ? "#000000" : "#6aa84f"
            o.append("<circle class=\"point\" cx=\"\(f(X(p.intensity)))\" cy=\"\(f(Y(p.attained)))\" r=\"\(i == 0 ? 6 : 4)\" fill=\"\(color)\"><title>\(esc(p.label))</title></circle>")
            o.append("<text class=\"point-label\" x=\"\(f(X(p.intensity) + 8))\" y=\"\(f(Y(p.attained) + 4 + Double(i % 3) * 11))\" fill=\"\(color)\">\(esc(p.label))</text>")
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
