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
        let loads = s.texts("node label load")
        #expect(loads.contains("load 21.8 KB x 36 = 786 KB"))   // K and V: 199 x 64 f16 per tile (the last is ragged)
        #expect(s.texts("node label store") == ["store 21.8 KB x 6 = 131 KB"])
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
        #expect(s.texts("node op").contains("run cached_attention x 2"))
    }

    @Test func repeatedLaunchesCollapseIntoOneClusterWithACount() throws {
        let (_, dot) = try graph("Kernels/models/tiny_mlp_stack.kern")
        let s = try #require(SVGStructure.parse(try Graphviz.render(dot: dot, format: "svg")))
        #expect(s.texts("cluster loop") == ["repeat L x 4"])
        let ops = s.texts("node op")
        #expect(ops.contains("run swiglu_mlp x 4") && ops.contains("run linear"))
        #expect(s.texts("node tensor").count == 12)
        #expect(s.texts("node label load").contains("W1"))
    }
}

/// The model level: a node per launch statement, timed by the run's own clock.
@Suite struct ModelLevelGraphTests {
    static let gpt2Small: [String: ParamValue] = ["T": .int(24), "L": .int(2), "d": .int(64), "H": .int(2), "vocab": .int(1100), "ctx": .int(32)]

    func model(_ kernel: String, _ params: [String: ParamValue] = [:], sink: EventSink? = nil) throws -> (ModelGraph, String, RunSummary, StatementProfile) {
        let p = try program(kernel)
        let profile = StatementProfile()
        let s = try Runner.run(p, options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!, overrides: params), extraSink: sink.map { Tee(profile, $0) } ?? profile)
        let g = ModelGraph(program: p, profile: profile, summary: s)
        return (g, DotWriter.dot(g), s, profile)
    }

    @Test func gptTwoIsItsLaunchesInOrder() throws {
        let (g, dot, s, profile) = try model("Kernels/models/gpt2_small.kern", Self.gpt2Small)
        #expect(DotWriter.dot(program: try program("Kernels/models/gpt2_small.kern"), profile: profile, summary: s) == dot)
        let launches = g.nodes.filter { !$0.isTensor }.map { $0.label.split(separator: "\n")[0].split(separator: " (")[0] }
        // The embedding loop written inline, the layer's launches (q, k and v projections: one
        // node; k and v into the cache), the last positions picked inline, the final norm, the
        // tied LM head and sampling, as gpt2_small.kern runs them.
        #expect(launches == ["line 73: for b in 0 ..< B", "run layernorm", "run linear x 3", "run kv_append", "run cached_attention", "run linear",
                             "run residual_add", "run layernorm", "run gelu_mlp", "run residual_add", "line 96: for b in 0 ..< B", "run layernorm",
                             "run lm_head_tied", "run sampling"])
        #expect(g.clusters.map(\.label) == ["for l in 0 ..< L   x 2"])
        let qkv = try #require(g.nodes.first { $0.label.hasPrefix("run linear x 3") })
        #expect(qkv.label.hasPrefix("run linear x 3 (Wq, bq, Wk, bk,\nWv, bv)") && qkv.label.contains("6 runs: "))
        #expect(g.edges.contains { $0.from == qkv.id && $0.label.hasPrefix("k ") && $0.label.contains(", v ") })
        #expect(g.edges.contains { $0.from == qkv.id && $0.label.hasPrefix("q ") })
        // Every launch is one node's: the runs add up to the summary's launch count.
        #expect(profile.launches.values.reduce(0) { $0 + $1.count } == s.counts.launches)
        // The nodes' times are parts of the run's: their shares add up to at most all of it.
        let shares = g.nodes.map(\.timeShare).reduce(0, +)
        #expect(shares > 0.5 && shares <= 1.0 + 1e-9)
    }

    /// One GPU of a tensor-parallel pair: each collective statement is a node the tensor passes
    /// through, with its runs and time (the embedding's all-reduce, two a layer, the logits' gather).
    @Test func collectivesAreNodesOnTheTensorsPath() throws {
        var sizes = smallSizes["Kernels/models/llama2_7b.kern"]!.mapValues { ParamValue.int($0) }
        sizes["tp"] = .int(2)
        let (g, _, s, _) = try model("Kernels/models/llama2_7b.kern", sizes)
        let collectives = g.nodes.compactMap(\.launch).filter { $0.what.hasPrefix("all") }
        #expect(collectives.map(\.what) == ["allreduce x", "allreduce y", "allreduce y", "allgather logits"])
        #expect(collectives.map(\.runs) == [1, 2, 2, 1])
        #expect(abs(collectives.map(\.seconds).reduce(0, +) - s.time.collective!) < 1e-12)
        let wo = try #require(g.nodes.first { $0.label.hasPrefix("run matmul (Wo)") })
        let reduce = try #require(g.nodes.first { $0.label.hasPrefix("allreduce y") })
        #expect(g.edges.contains { $0.from == wo.id && $0.to == reduce.id })
    }

    /// The same graph from the run's JSONL trace (its launch and end events carry the clock).
    @Test func aTraceGivesTheLiveRunsGraph() throws {
        let path = NSTemporaryDirectory() + "gpusim-model-graph-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p = try program("Kernels/models/gpt2_small.kern")
        _ = try Runner.run(p, options: RunOptions(gpu: GPUModel.preset(named: "a100-80gb")!, overrides: Self.gpt2Small), tracePath: path)
        let profile = StatementProfile()
        let trace = try TraceReader.read(path, into: profile)
        let (_, live, _, _) = try model("Kernels/models/gpt2_small.kern", Self.gpt2Small)
        #expect(DotWriter.dot(ModelGraph(program: p, profile: profile, summary: trace.summary)) == live)
    }

    @Test func dotMatchesGolden() throws {
        let (_, dot, _, _) = try model("Kernels/models/tiny_mlp_stack.kern")
        let golden = try String(contentsOf: packageRoot.appendingPathComponent("Tests/RenderTests/Golden/tiny_mlp_stack_model.dot"), encoding: .utf8)
        #expect(dot == golden)
    }
}
