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
