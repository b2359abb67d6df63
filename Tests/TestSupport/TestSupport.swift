import Foundation
import KernLang

/// Shared by the test targets: the package root and loading kernels by their path relative
/// to it (the path traces and diagnostics record).
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

public func readRelative(_ relative: String) throws -> SourceFile {
    let text = String(decoding: try Data(contentsOf: packageRoot.appendingPathComponent(relative)), as: UTF8.self)
    return SourceFile(path: relative, text: text)
}

/// Checks a kernel file, resolving imports relative to the importing file.
public func program(_ relative: String) throws -> CheckedProgram {
    let r = Checker.check(file: try readRelative(relative)) { imp, from in
        let dir = (from.path as NSString).deletingLastPathComponent
        return try? readRelative(dir.isEmpty ? imp : dir + "/" + imp)
    }
    switch r {
    case .success(let p): return p
    case .failure(let d): throw d
    }
}

/// Every shipped kernel, as a path relative to the package root.
public func shippedKernels() -> [String] {
    let dir = packageRoot.appendingPathComponent("Kernels")
    let e = FileManager.default.enumerator(atPath: dir.path)
    var out: [String] = []
    while let p = e?.nextObject() as? String { if p.hasSuffix(".kern") { out.append("Kernels/" + p) } }
    return out.sorted()
}

/// Sizes at which the big shipped kernels (whole models, the paper's batched kernels) run in
/// tests; every other kernel runs at its defaults.
public let smallSizes: [String: [String: Int64]] = [
    "Kernels/models/gpt2_small.kern": ["B": 2, "T": 24, "L": 2, "d": 64, "H": 2, "vocab": 1100, "positions": 32],
    "Kernels/models/llama2_7b.kern": ["B": 2, "T": 24, "L": 2, "d": 64, "H": 4, "KVH": 2, "dff": 96, "vocab": 1100, "ctx": 32],
    "Kernels/models/tiny_mlp_stack.kern": ["T": 24, "L": 2],
    "Kernels/paper/flash_attention_v1.kern": ["B": 1, "H": 2, "N": 100, "d": 16, "Bc": 24],
    "Kernels/paper/standard_attention_eager.kern": ["B": 1, "H": 2, "N": 100, "d": 16, "T": 32, "R": 8],
]

/// A kernel's small sizes as command-line flags (`--T 24 --L 2 ...`).
public func smallSizeFlags(_ kernel: String) -> [String] {
    (smallSizes[kernel] ?? [:]).sorted { $0.key < $1.key }.flatMap { ["--\($0.key)", "\($0.value)"] }
}
