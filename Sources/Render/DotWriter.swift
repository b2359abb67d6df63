import Analysis
import Foundation
import KernLang
import Simulator

/// DOT text for a dataflow graph: HBM tensors in blue cylinders, SRAM tiles in orange boxes,
/// operations as ellipses, loops as clusters; the heaviest HBM edges drawn thick and red.
public enum DotWriter {
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

    public static func dot(_ g: DataflowGraph) -> String {
        var out = ["digraph gpusim {"]
        out.append("  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=12, label=\(quote(g.title)), labelloc=t, newrank=true];")
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
        // HBM outside every cluster, in its own labelled group.
        out.append("  subgraph cluster_hbm {")
        out.append("    label=\"HBM\"; style=\"rounded,dashed\"; color=\"#3d85c6\";")
        for n in g.nodes where n.kind == .tensor { out.append(nodeLine(n, "    ")) }
        out.append("  }")
        func cluster(_ id: Int?, _ depth: Int) {
            let pad = String(repeating: "  ", count: depth + 1)
            for n in g.nodes where n.kind != .tensor && n.cluster == id { out.append(nodeLine(n, pad)) }
            for c in g.clusters where c.parent == id {
                out.append("\(pad)subgraph cluster_\(c.id) {")
                out.append("\(pad)  label=\(quote(c.label)); style=rounded; color=\"#999999\"; class=\"loop\";")
                cluster(c.id, depth + 1)
                out.append("\(pad)}")
            }
        }
        cluster(nil, 0)
        let heavy = Set(g.edges.enumerated().filter { $0.element.totalBytes > 0 }
            .sorted { $0.element.totalBytes > $1.element.totalBytes }.prefix(3).map(\.offset))
        let maxBytes = Double(g.edges.map(\.totalBytes).max() ?? 1)
        for (i, e) in g.edges.enumerated() {
            var attrs = ["class=\(quote(e.kind.rawValue))"]
            if !e.label.isEmpty { attrs.append("label=\(quote(e.label))") }
            switch e.kind {
            case .load, .store:
                let w = 1 + 3 * log10(1 + 9 * Double(e.totalBytes) / max(maxBytes, 1))
                attrs.append(String(format: "penwidth=%.2f", w))
                attrs.append(heavy.contains(i) ? "color=\"#cc0000\", fontcolor=\"#cc0000\"" : "color=\"#3d85c6\"")
            case .operand, .result:
                attrs.append("color=\"#888888\"")
            }
            out.append("  \(quote(e.from)) -> \(quote(e.to)) [\(attrs.joined(separator: ", "))];")
        }
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }

    /// DOT text for a model's launches: boxes in execution order, shaded by their share of the
    /// time (white to orange), loops as clusters, HBM tensors (inputs, outputs) as cylinders.
    public static func dot(_ g: ModelGraph) -> String {
        var out = ["digraph gpusim {"]
        out.append("  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=12, label=\(quote(g.title)), labelloc=t, newrank=true, nodesep=0.3, ranksep=0.2, size=\"16.67,12.5\"];")
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
        func cluster(_ id: Int?, _ depth: Int) {
            let pad = String(repeating: "  ", count: depth + 1)
            for n in g.nodes where n.cluster == id { out.append(nodeLine(n, pad)) }
            for c in g.clusters where c.parent == id {
                out.append("\(pad)subgraph cluster_\(c.id) {")
                out.append("\(pad)  label=\(quote(c.label)); style=rounded; color=\"#999999\"; class=\"loop\";")
                cluster(c.id, depth + 1)
                out.append("\(pad)}")
            }
        }
        cluster(nil, 0)
        for e in g.edges { out.append("  \(quote(e.from)) -> \(quote(e.to)) [label=\(quote(e.label))];") }
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }
}
