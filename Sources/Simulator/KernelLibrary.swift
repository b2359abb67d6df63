import Foundation
import KernLang

/// Where kernels are found when the path given does not exist: the folders of
/// `GPUSIM_KERNEL_PATH` (colon-separated), then the shipped library, which is installed next to
/// the executable (`<prefix>/share/gpusim/Kernels` beside `<prefix>/bin/gpusim`) or, for a
/// build inside a checkout, the checkout's `Kernels/`. A kernel is named by its path inside a
/// folder (`stack/rmsnorm`), by its file name (`rmsnorm`, `rmsnorm.kern`), or by one of the
/// seed's short names (`flash`, `standard`, `tiled_1d`, `tiled_2d`, `flash2`).
public enum KernelLibrary {
    /// The seed's names for its algorithms, and FlashAttention-2.
    public static let aliases: [(name: String, kernel: String)] = [
        ("standard", "standard_attention"), ("tiled_1d", "attention_1d"), ("tiled_2d", "attention_2d"),
        ("flash", "flash_attention"), ("flash2", "flash_attention2"),
    ]

    /// The folders searched, first match wins: GPUSIM_KERNEL_PATH's, then the shipped library.
    public static func folders(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var out = (environment["GPUSIM_KERNEL_PATH"] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
        if let shipped = shippedFolder() { out.append(shipped) }
        return out
    }

    /// The library that came with this executable.
    public static func shippedFolder() -> String? {
        guard let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() else { return nil }
        var isDir: ObjCBool = false
        let fm = FileManager.default
        let dir = exe.deletingLastPathComponent()
        let installed = dir.deletingLastPathComponent().appendingPathComponent("share/gpusim/Kernels").path
        if fm.fileExists(atPath: installed, isDirectory: &isDir), isDir.boolValue { return installed }
        // A build in a checkout (.build/release/gpusim): the checkout's Kernels/.
        var up = dir
        for _ in 0..<6 {
            let kernels = up.appendingPathComponent("Kernels").path
            if fm.fileExists(atPath: up.appendingPathComponent("Package.swift").path),
               fm.fileExists(atPath: kernels, isDirectory: &isDir), isDir.boolValue { return kernels }
            up = up.deletingLastPathComponent()
        }
        return nil
    }

    /// Every kernel file of a folder, as paths relative to it, shallowest first.
    public static func kernels(in folder: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: folder) else { return [] }
        var out: [String] = []
        while let p = e.nextObject() as? String { if p.hasSuffix(".kern") { out.append(p) } }
        return out.sorted { ($0.split(separator: "/").count, $0) < ($1.split(separator: "/").count, $1) }
    }

    public enum Resolution: Equatable, Sendable {
        case found(String)
        /// No such file and no such kernel: the closest names, best first.
        case notFound(suggestions: [String])
    }

    /// The file `name` stands for: itself when something exists at that path (what is there is
    /// then read, and errors name it), else a kernel of the library.
    public static func resolve(_ name: String, folders: [String] = folders()) -> Resolution {
        if FileManager.default.fileExists(atPath: name) { return .found(name) }
        var base = name.hasSuffix(".kern") ? String(name.dropLast(5)) : name
        if base.hasPrefix("Kernels/") { base = String(base.dropFirst(8)) }
        base = aliases.first { $0.name == base }?.kernel ?? base
        for folder in folders {
            let direct = folder + "/" + base + ".kern"
            if FileManager.default.fileExists(atPath: direct) { return .found(direct) }
        }
        if !base.contains("/") {
            for folder in folders {
                if let p = kernels(in: folder).first(where: { ($0 as NSString).lastPathComponent == base + ".kern" }) {
                    return .found(folder + "/" + p)
                }
            }
        }
        let names = Set(folders.flatMap { kernels(in: $0).map { String(($0 as NSString).lastPathComponent.dropLast(5)) } } + aliases.map(\.name))
        let ranked = names.map { ($0, editDistance($0, base)) }.filter { $0.1 <= max(2, base.count / 3) || $0.0.contains(base) }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }.map(\.0)
        return .notFound(suggestions: Array(ranked.prefix(4)))
    }
}
