import Analysis
import Foundation
import Simulator

/// One self-contained HTML page (no network): the summary, the roofline, the dataflow graph,
/// the SRAM/HBM timeline and the traffic tables.
public enum HTMLReport {
    static func esc(_ s: String) -> String { SVG.esc(s) }

    /// Inline SVG: drop any XML prologue and doctype Graphviz writes.
    static func inline(_ svg: String) -> String {
        guard let start = svg.range(of: "<svg") else { return "" }
        return String(svg[start.lowerBound...])
    }

    /// `launches`: a model's launch nodes (`ModelGraph`), listed by time above its graph.
    /// Wheel zoom about the pointer, drag to pan and double-click to go back, on the graph's
    /// viewBox (inline, no network). The first view fits the figure without enlarging it.
    static let panZoom = """
    <script>
    (() => {
      const fig = document.getElementById('graph'), svg = fig && fig.querySelector('svg');
      if (!svg || !svg.viewBox.baseVal) return;
      let home = [svg.viewBox.baseVal.x, svg.viewBox.baseVal.y, svg.viewBox.baseVal.width, svg.viewBox.baseVal.height];
      // Graphviz sizes the drawing in pt; the first view fits the figure but never enlarges it.
      const natural = parseFloat(svg.getAttribute('width')) * 4 / 3 / home[2];
      svg.removeAttribute('width'); svg.removeAttribute('height');
      const r0 = svg.getBoundingClientRect();
      if (natural > 0 && Math.min(r0.width / home[2], r0.height / home[3]) > natural) {
        const w = r0.width / natural, h = r0.height / natural;
        home = [home[0] - (w - home[2]) / 2, home[1] - (h - home[3]) / 2, w, h];
      }
      let v = home.slice(), drag = null;
      const show = () => svg.setAttribute('viewBox', v.join(' '));
      show();
      const point = e => { const r = svg.getBoundingClientRect(), s = Math.max(v[2] / r.width, v[3] / r.height);
        return [v[0] + (e.clientX - r.left - (r.width - v[2] / s) / 2) * s, v[1] + (e.clientY - r.top - (r.height - v[3] / s) / 2) * s]; };
      svg.addEventListener('wheel', e => { e.preventDefault(); const [px, py] = point(e), k = e.deltaY > 0 ? 1.2 : 1 / 1.2;
        v = [px - (px - v[0]) * k, py - (py - v[1]) * k, v[2] * k, v[3] * k]; show(); }, { passive: false });
      svg.addEventListener('mousedown', e => { drag = [e.clientX, e.clientY, v[0], v[1]]; fig.style.cursor = 'grabbing'; });
      window.addEventListener('mouseup', () => { drag = null; fig.style.cursor = 'grab'; });
      window.addEventListener('mousemove', e => { if (!drag) return; const r = svg.getBoundingClientRect(), s = Math.max(v[2] / r.width, v[3] / r.height);
        v[0] = drag[2] - (e.clientX - drag[0]) * s; v[1] = drag[3] - (e.clientY - drag[1]) * s; show(); });
      svg.addEventListener('dblclick', () => { v = home.slice(); show(); });
    })();
    </script>
    """

    public static func html(summary s: RunSummary, gpu: GPUModel, roofline: String, graph: String, timeline: String,
                            launches: [ModelGraph.Launch] = []) -> String {
        let seed = gpu.countsElements
        func amount(_ b: Int64) -> String { seed ? "\(group(b / Int64(gpu.elementBytes!))) elements (\(fmtBytes(b)))" : fmtBytes(b) }
        func time(_ t: Double) -> String { fmtTime(t, s.time.unit) }
        let params = s.params.sorted { $0.key < $1.key }.map { "<code>\(esc($0.key)) = \(esc($0.value.description))</code>" }.joined(separator: " ")
        var rows: [(String, String)] = [
            ("GPU", esc(gpu.name + " — " + gpu.description)),
            ("Parameters", params),
            ("HBM traffic", "reads \(amount(s.hbm.read_bytes)), writes \(amount(s.hbm.write_bytes)), total \(amount(s.hbm.total_bytes))"),
            ("Peak HBM", amount(s.hbm.peak_bytes)),
            ("Peak SRAM", "\(amount(s.sram.peak_bytes)) of \(amount(s.sram.capacity_bytes)) (\(Int((Double(s.sram.peak_bytes) / Double(s.sram.capacity_bytes) * 100).rounded())) %)"
                + (s.sram.overflow ? " — <b class=\"bad\">overflow</b>: \(s.sram.overflow_count) allocations, first at \(esc(s.sram.first_overflow ?? ""))" : "")),
            ("FLOPs", "\(group(Double(s.flops.total))) (matmul \(group(Double(s.flops.matmul))), elementwise \(group(Double(s.flops.elementwise))), special \(group(Double(s.flops.special))))"),
            ("Time", "compute \(time(s.time.compute)), memory \(time(s.time.memory)), total \(time(s.time.total))"),
        ]
        if let l2 = s.l2, let line = TerminalReport.l2Line(l2, amount: amount) { rows.insert(("L2", line), at: 3) }
        if let w = s.time.wave_idle, let l = s.time.launch_gaps {
            rows.append(("Of the time", "idle SMs in partial waves \(time(w)) (in compute), launch overhead \(time(l)) (in total)"))
        }
        // The terminal's notes on the verdict, but the idle waves the row above gives.
        let notes = boundNotes(s, idleWaves: false).map { "<br>" + esc($0) }.joined()
        rows.append(("Verdict", "<b>\(s.bound.rawValue)-bound</b>, \(String(format: "%.1f", s.intensity)) FLOP per HBM byte" + notes))
        var h = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(esc(s.kernel)) — gpusim report</title>"]
        h.append("""
        <style>
        body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
        h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
        table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 4px 10px; border-bottom: 1px solid #eee; text-align: left; } th { white-space: nowrap; }
        td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; } .bad { color: #c00; }
        figure { margin: 1em 0; overflow-x: auto; } svg { max-width: 100%; height: auto; }
        #graph { border: 1px solid #ddd; overflow: hidden; cursor: grab; position: relative; }
        #graph svg { width: 100%; height: 75vh; max-width: none; }
        #graph .hint { position: absolute; right: 8px; top: 4px; color: #888; font-size: 0.8em; }
        </style></head><body>
        """)
        h.append("<h1>\(esc(s.kernel)) on \(esc(gpu.name))</h1>")
        h.append("<table id=\"summary\">" + rows.map { "<tr><th>\($0.0)</th><td>\($0.1)</td></tr>" }.joined() + "</table>")
        let graphSection = "<h2>\(launches.isEmpty ? "Dataflow" : "Launches")</h2><figure id=\"graph\"><span class=\"hint\">wheel: zoom, drag: pan, double-click: fit</span>\(inline(graph))</figure>"
        if !launches.isEmpty {
            // A model: its launches first, the graph and the slowest launches on top.
            h.append(graphSection)
            h.append("<table id=\"launches\"><tr><th>line</th><th>launch</th><th class=\"n\">runs</th><th class=\"n\">time</th><th class=\"n\">share</th><th class=\"n\">DRAM</th><th>bound</th></tr>")
            for l in launches.sorted(by: { $0.seconds > $1.seconds }) {
                let share = s.time.total > 0 ? l.seconds / s.time.total * 100 : 0
                h.append("<tr><td>\(l.line)</td><td><code>\(esc(l.what))</code></td><td class=\"n\">\(l.runs)</td><td class=\"n\">\(time(l.seconds))</td><td class=\"n\">\(String(format: "%.1f %%", share))</td><td class=\"n\">\(fmtBytes(l.dramBytes))</td><td>\(l.bound?.rawValue ?? "")</td></tr>")
            }
            h.append("</table>")
        }
        h.append("<h2>HBM traffic by tensor</h2><table id=\"tensors\"><tr><th>tensor</th><th class=\"n\">read</th><th class=\"n\">written</th><th class=\"n\">share</th></tr>")
        for (name, t) in s.tensors.sorted(by: { $0.value.read_bytes + $0.value.write_bytes > $1.value.read_bytes + $1.value.write_bytes }) {
            let share = Double(t.read_bytes + t.write_bytes) / Double(max(s.hbm.total_bytes, 1)) * 100
            h.append("<tr><td>\(esc(name))</td><td class=\"n\">\(fmtBytes(t.read_bytes))</td><td class=\"n\">\(fmtBytes(t.write_bytes))</td><td class=\"n\">\(String(format: "%.1f %%", share))</td></tr>")
        }
        h.append("</table>")
        h.append("<h2>Phases</h2><table id=\"phases\"><tr><th>line</th><th>phase</th><th class=\"n\">HBM</th><th class=\"n\">FLOPs</th><th class=\"n\">time</th><th>bound</th></tr>")
        for p in s.phases {
            h.append("<tr><td>\(p.line)</td><td><code>\(esc(p.label))</code></td><td class=\"n\">\(fmtBytes(p.read_bytes + p.write_bytes))</td><td class=\"n\">\(group(Double(p.flops)))</td><td class=\"n\">\(time(p.time_total))</td><td>\(p.bound.rawValue)</td></tr>")
        }
        h.append("</table>")
        h.append("<h2>Roofline</h2><figure id=\"roofline\">\(inline(roofline))</figure>")
        if launches.isEmpty { h.append(graphSection) }
        h.append("<h2>SRAM and HBM over time</h2><figure id=\"timeline\">\(inline(timeline))</figure>")
        h.append(panZoom)
        h.append("<p style=\"color:#888\">Generated by gpusim. Every figure comes from interpreting the kernel against the GPU model.</p>")
        h.append("</body></html>")
        return h.joined(separator: "\n") + "\n"
    }
}
