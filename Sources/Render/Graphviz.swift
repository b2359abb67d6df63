import CGraphviz
import Foundation
import Synchronization

/// Lays out DOT text with Graphviz's C library and renders it (svg, png, pdf, or dot with
/// positions). libgvc is not thread-safe, so every call holds one process-wide lock.
public enum Graphviz {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    static let lock = Mutex(())
    /// Messages Graphviz reports through its error callback (fragments, joined); guarded by `lock`.
    nonisolated(unsafe) static var messages = ""

    public static let formats = ["svg", "png", "pdf", "dot"]

    public static func render(dot: String, format: String) throws(Failure) -> Data {
        guard formats.contains(format) else { throw Failure(description: "unknown graph format '\(format)'; expected \(formats.joined(separator: ", "))") }
        return try lock.withLock { _ throws(Failure) -> Data in
            messages = ""
            _ = agseterrf { text in
                if let text { Graphviz.messages += String(cString: text) }
                return 0
            }
            guard let gvc = gvContext() else { throw Failure(description: "Graphviz: cannot create a context") }
            defer { gvFreeContext(gvc) }
            guard let graph = dot.withCString({ agmemread($0) }) else {
                throw Failure(description: "Graphviz could not read the generated graph: \(cleaned())")
            }
            defer { agclose(graph) }
            guard gvLayout(gvc, graph, "dot") == 0 else {
                throw Failure(description: "Graphviz layout failed: \(cleaned()) (is the plugin configuration installed? run `dot -c` as root)")
            }
            defer { gvFreeLayout(gvc, graph) }
            var result: UnsafeMutablePointer<CChar>?
            var length: UInt32 = 0
            guard gvRenderData(gvc, graph, format, &result, &length) == 0, let result else {
                throw Failure(description: "Graphviz could not render \(format): \(cleaned())")
            }
            defer { gvFreeRenderData(result) }
            return Data(bytes: result, count: Int(length))
        }
    }

    static func cleaned() -> String {
        let s = messages.trimmingCharacters(in: .whitespacesAndNewlines)
        return s.isEmpty ? "no message" : s.replacingOccurrences(of: "\n", with: "; ")
    }
}
