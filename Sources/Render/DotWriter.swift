import Analysis
import Foundation
import KernLang
import Simulator

/// DOT text for a dataflow graph: HBM tensors in blue cylinders, SRAM tiles in orange boxes,
/// operations as ellipses, loops as clusters; HBM edges as thick as their bytes, the largest red.
public enum DotWriter {
    /// A graph's title over a smaller legend line, as an HTML-like label: its rows get their own
    /// spacing (the lines of a plain label sit close enough for browsers' fonts to overlap them).
    static func heading(_ title: String, _ legend: String) -> String {
        func html(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        return "<<table border=\"0\" cellpadding=\"2\" cellspacing=\"0\"><tr><td>\(html(title))</td></tr><tr><td><font point-size=\"10\">\(html(legend))</font></td></tr></table>>"
    }

    static func quote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    /// The graph of a run, as `gpusim graph` and the report draw it: a model (a kernel that
    /// launches others) at the level of its launches unless `statements`, any other kernel
    /// statement by statement.
    public static func dot(program: CheckedProgram, profile: StatementProfile, summary: RunSummary, statements: Bool = false) -> String {
        if !statements && ModelGraph.applies(to: program) { return dot(ModelGraph(program: program, profile: profile, summary: summary)) }
        return dot(DataflowGraph(program: program, profile: profile, title: DataflowGraph.title(summary)))
    }

    /// Loops as nested clusters, each with the lines `contents(cluster, indent)` gives for it
    /// (nil: the top level, outside every loop).
    static func loops(_ clusters: [DataflowGraph.Cluster], _ contents: (Int?, String) -> [String]) -> [String] {
        var out: [String] = []
        func emit(_ id: Int?, _ depth: Int) {
            let pad = String(repeating: "  ", count: depth + 1)
            out += contents(id, pad)
            for c in clusters where c.parent == id {
                out.append("\(pad)subgraph cluster_\(c.id) {")
                out.append("\(pad)  label=\(quote(c.label)); style=rounded; color=\"#999999\"; class=\"loop\";")
                emit(c.id, depth + 1)
                out.append("\(pad)}")
            }
        }
        emit(nil, 0)
        return out
    }

    public static func dot(_ g: DataflowGraph) -> String {
        var out = ["digraph gpusim {"]
        let legend = "HBM edges: requested bytes per execution x executions = total; red: at least half the largest total"
        out.append("  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=12, label=\(heading(g.title, legend)), labelloc=t, newrank=true, pad=\"0.2,0.05\"];")
        out.append("  node [fontname=\"Helvetica\", fontsize=10];")
        out.append("  edge [fontname=\"Helvetica\", fontsize=9];")
        func nodeLine(_ n: DataflowGraph.Node, _ pad: String) -> String {
            let style: String
            switch n.kind {
            case .tensor: style = "shape=cylinder, style=filled, fillcolor=\"#cfe2f3\", color=\"#3d85c6\""
            case .tile: style = "shape=box, style=\"rounded,filled\", fillcolor=\"#fce5cd\", color=\"#e69138\""
            case .op: style = "shape=ellipse, color=\"#666666\""
            }
            return "\(pad)\(quote(n.id)) [label=\(quote(n.label)), class=\(quote(n.kind.rawValue)), \(style)];"
        }
        // Red: every HBM edge that moves at least half the largest total (one colour, one meaning).
        let largest = g.edges.map(\.totalBytes).max() ?? 0
        let heavyFrom = largest > 0 ? (largest + 1) / 2 : Int64.max
        let maxBytes = Double(max(largest, 1))
        let cluster = Dictionary(g.nodes.map { ($0.id, $0.cluster) }, uniquingKeysWith: { a, _ in a })
        // A labelled edge runs through a label node of its own (in the cluster of its tile or
        // operation end): dot never lets nodes overlap, where its edge labels between clusters do.
        var labels: [(id: String, line: String, cluster: Int?)] = []
        var edgeLines: [String] = []
        for (i, e) in g.edges.enumerated() {
            var attrs = ["class=\(quote(e.kind.rawValue))"]
            var colour = "#888888"
            switch e.kind {
            case .load, .store:
                let w = 1 + 3 * log10(1 + 9 * Double(e.totalBytes) / max(maxBytes, 1))
                attrs.append(String(format: "penwidth=%.2f", w))
                colour = e.totalBytes >= heavyFrom ? "#cc0000" : "#3d85c6"
            case .operand, .result: break
            }
            attrs.append("color=\"\(colour)\"")
            guard !e.label.isEmpty else {
                edgeLines.append("  \(quote(e.from)) -> \(quote(e.to)) [\(attrs.joined(separator: ", "))];")
                continue
            }
            let id = "label_\(i)"
            let home = e.kind == .store ? cluster[e.from] ?? nil : cluster[e.to] ?? nil
            labels.append((id, "\(quote(id)) [label=\(quote(e.label)), class=\(quote("label " + e.kind.rawValue)), shape=plaintext, fontsize=9, fontcolor=\"\(colour)\", margin=\"0.02,0.02\", width=0, height=0];", home))
            edgeLines.append("  \(quote(e.from)) -> \(quote(id)) [\(attrs.joined(separator: ", ")), arrowhead=none];")
            edgeLines.append("  \(quote(id)) -> \(quote(e.to)) [\(attrs.joined(separator: ", "))];")
        }
        // HBM outside every cluster, in its own labelled group.
        out.append("  subgraph cluster_hbm {")
        out.append("    label=\"HBM\"; style=\"rounded,dashed\"; color=\"#3d85c6\";")
        for n in g.nodes where n.kind == .tensor { out.append(nodeLine(n, "    ")) }
        out.append("  }")
        out += loops(g.clusters) { id, pad in
            g.nodes.filter { $0.kind != .tensor && $0.cluster == id }.map { nodeLine($0, pad) } + labels.filter { $0.cluster == id }.map { pad + $0.line }
        }
        out += edgeLines
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }

    /// DOT text for a model's launches: boxes in execution order, shaded by their share of the
    /// time (white to orange), loops as clusters, HBM tensors (inputs, outputs) as cylinders.
    public static func dot(_ g: ModelGraph) -> String {
        var out = ["digraph gpusim {"]
        out.append("  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=12, label=\(heading(g.title, g.legend)), labelloc=t, newrank=true, nodesep=0.3, ranksep=0.2, pad=\"0.2,0.05\"];")
        out.append("  node [fontname=\"Helvetica\", fontsize=10];")
        out.append("  edge [fontname=\"Helvetica\", fontsize=9, color=\"#3d85c6\", fontcolor=\"#444444\"];")
        func nodeLine(_ n: ModelGraph.Node, _ pad: String) -> String {
            if n.isTensor {
                return "\(pad)\(quote(n.id)) [label=\(quote(n.label)), class=\"tensor\", shape=cylinder, style=filled, fillcolor=\"#cfe2f3\", color=\"#3d85c6\"];"
            }
            // White (no time) to #e69138 (all of it), on a square-root scale so small shares still show.
            let f = min(1, max(0, n.timeShare)).squareRoot()
            let (r, gg, b) = (255 - f * (255 - 0xe6), 255 - f * (255 - 0x91), 255 - f * (255 - 0x38))
            let fill = String(format: "#%02x%02x%02x", Int(r), Int(gg), Int(b))
            return "\(pad)\(quote(n.id)) [label=\(quote(n.label)), class=\"launch\", shape=box, style=\"rounded,filled\", fillcolor=\"\(fill)\", color=\"#666666\"];"
        }
        out += loops(g.clusters) { id, pad in g.nodes.filter { $0.cluster == id }.map { nodeLine($0, pad) } }
        for e in g.edges { out.append("  \(quote(e.from)) -> \(quote(e.to)) [label=\(quote(e.label))];") }
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }
}
