import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import KernLang
import Simulator
import Analysis
@testable import Render
import TestSupport

func graph(_ kernel: String, _ params: [String: ParamValue] = [:]) throws -> (DataflowGraph, String) {
    let p = try program(kernel)
    let profile = StatementProfile()
    let s = try Runner.run(p, options: RunOptions(gpu: GPUModel.preset(named: "seed-a100")!, overrides: params), extraSink: profile)
    let g = DataflowGraph(program: p, profile: profile, title: DataflowGraph.title(s))
    return (g, DotWriter.dot(g))
}

/// The SVG's structure: classes and texts of its node, edge and cluster groups.
final class SVGStructure: NSObject, XMLParserDelegate {
    var groups: [(cls: String, texts: [String])] = []
    var stack: [Int] = []
    var inText = false
    func parser(_ p: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if name == "g" {
            if let c = attributes["class"], c.hasPrefix("node") || c.hasPrefix("edge") || c.hasPrefix("cluster") {
                groups.append((c, [])); stack.append(groups.count - 1)
            } else { stack.append(-1) }
        }
        inText = name == "text"
    }
    func parser(_ p: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "g" { _ = stack.popLast() }
        if name == "text" { inText = false }
    }
    func parser(_ p: XMLParser, foundCharacters s: String) {
        guard inText, let g = stack.last(where: { $0 >= 0 }) else { return }
        groups[g].texts.append(s)
    }
    static func parse(_ data: Data) -> SVGStructure? {
        let d = SVGStructure()
        let p = XMLParser(data: data)
        p.delegate = d
        return p.parse() ? d : nil
    }
    /// Texts of the groups of a class, white space (Graphviz writes &#160;) collapsed.
    func texts(_ cls: String) -> [String] {
        groups.filter { $0.cls == cls }.map { $0.texts.joined(separator: " ").split(whereSeparator: { $0.isWhitespace }).joined(separator: " ") }
    }
}

@Suite struct GraphTests {
    @Test func flashKeepsScoresInSRAM() throws {
        let (_, dot) = try graph("Kernels/flash_attention.kern")
        let svg = try Graphviz.render(dot: dot, format: "svg")
        let s = try #require(SVGStructure.parse(svg))
        let tensors = s.texts("node tensor"), tiles = s.texts("node tile")
        #expect(tensors.count == 4)
        #expect(tensors.allSatisfy { !$0.hasPrefix("S ") && !$0.hasPrefix("P ") })
        #expect(tiles.contains("S") && tiles.contains("P") && tiles.contains("St"))
        let clusters = s.texts("cluster loop")
        #expect(clusters.contains("parallel for i in tiles(N, Br) x 6"))
        #expect(clusters.contains("for j in tiles(N, Bc) x 6 (36 in all)"))
        let loads = s.texts("edge load")
        #expect(loads.contains("load 21.8 KB x 36 = 786 KB"))   // K and V: 199 x 64 f16 per tile (the last is ragged)
        #expect(s.texts("edge store") == ["store 21.8 KB x 6 = 131 KB"])
    }

    @Test func twoDTilingPutsScoresInHBM() throws {
        let (g, dot) = try graph("Kernels/attention_2d.kern")
        let names = g.nodes.filter { $0.kind == .tensor }.map { $0.label.split(separator: "\n")[0] }
        #expect(Set(names) == ["Q", "K", "V", "O", "S", "P"])
        let s = try #require(SVGStructure.parse(try Graphviz.render(dot: dot, format: "svg")))
        #expect(s.texts("node tensor").contains { $0.hasPrefix("S scratch") })
        // S is written once (N^2 elements) and read back once in phase (b).
        let stores = g.edges.filter { $0.kind == .store && $0.to == "hbm_4" }
        #expect(stores.map(\.totalBytes) == [1024 * 1024 * 2])
    }

    @Test func causalKernelRendersWithConditionalTiles() throws {
        let (_, dot) = try graph("Kernels/flash_attention_causal.kern", ["N": .int(512)])
        let s = try #require(SVGStructure.parse(try Graphviz.render(dot: dot, format: "svg")))
        #expect(s.texts("cluster loop").contains { $0.hasPrefix("for j in tiles(N, Bc)") && $0.contains("x 3 (9 in all)") })
    }

    @Test func everyShippedKernelRenders() throws {
        let dir = packageRoot.appendingPathComponent("Kernels").path
        // Full-size models and the paper's kernels (defaults: batch 64 x 16 heads) are drawn in
        // ModelGraphTests at small sizes: a graph run records every event.
        let kernels = (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".kern") && !$0.hasPrefix("models/") && !$0.hasPrefix("paper/") }
        #expect(kernels.count >= 6)
        for k in kernels {
            let (_, dot) = try graph("Kernels/" + k)
            let svg = try Graphviz.render(dot: dot, format: "svg")
            #expect(SVGStructure.parse(svg) != nil, "\(k)")
        }
    }

    @Test func dotMatchesGolden() throws {
        let (_, dot) = try graph("Kernels/flash_attention.kern")
        let golden = try String(contentsOf: packageRoot.appendingPathComponent("Tests/RenderTests/Golden/flash_attention.dot"), encoding: .utf8)
        #expect(dot == golden)
    }

    @Test func graphvizErrorsBecomeGpusimErrors() {
        #expect { try Graphviz.render(dot: "digraph { a -> }", format: "svg") } throws: { "\($0)".hasPrefix("Graphviz could not read the generated graph") }
        #expect { try Graphviz.render(dot: "digraph { a }", format: "gif") } throws: { "\($0)".hasPrefix("unknown graph format 'gif'") }
    }

    @Test func concurrentRendersAreSerialised() async throws {
        let (_, dot) = try graph("Kernels/standard_attention.kern")
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { try Graphviz.render(dot: dot, format: "svg").count } }
            for try await n in group { #expect(n > 1000) }
        }
    }
}

@Suite struct ModelGraphTests {
    @Test func gptTwoRendersAtASmallSize() throws {
        let (_, dot) = try graph("Kernels/models/gpt2_small.kern", ["T": .int(24), "L": .int(2), "d": .int(64), "H": .int(2), "vocab": .int(1100), "ctx": .int(32)])
        let s = try #require(SVGStructure.parse(try Graphviz.render(dot: dot, format: "svg")))
        #expect(s.texts("node op").contains("run mha_causal x 2"))
    }

    @Test func repeatedLaunchesCollapseIntoOneClusterWithACount() throws {
        let (_, dot) = try graph("Kernels/models/tiny_mlp_stack.kern")
        let s = try #require(SVGStructure.parse(try Graphviz.render(dot: dot, format: "svg")))
        #expect(s.texts("cluster loop") == ["repeat L x 4"])
        let ops = s.texts("node op")
        #expect(ops.contains("run swiglu_mlp x 4") && ops.contains("run linear"))
        #expect(s.texts("node tensor").count == 12)
        #expect(s.texts("edge load").contains("W1"))
    }
}
