// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "gpusim",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "gpusim", targets: ["gpusim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Source text -> tokens -> AST -> resolved program; diagnostics with spans.
        .target(name: "KernLang"),
        // OpenBLAS through pkg-config: a tuned multi-threaded GEMM is ~5x faster than our own
        // blocked loops on this 2-core machine, and numeric runs are dominated by matmuls.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // exp over buffers in AVX2 registers where the CPU has them (chosen at run time; Swift
        // cannot compile one function for two instruction sets): numeric runs spend a third
        // of their time in exp, and the baseline x86-64 target is 4-wide SSE.
        .target(name: "CVectorMath"),
        // Values: dtype rounding, matmul and reductions, .npy I/O, seeded inputs.
        .target(name: "Numerics", dependencies: ["COpenBLAS", "CVectorMath"]),
        // GPU presets, memory hierarchy, interpreter, events and trace writers.
        .target(name: "Simulator", dependencies: ["KernLang", "Numerics"],
                // The interpreter's hot loop mutates class state; dynamic exclusivity checks cost ~20 %.
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // Reading results: traces, profiles, IO complexity, roofline, sweeps, diffs, measured runs, calibration.
        .target(name: "Analysis", dependencies: ["KernLang", "Numerics", "Simulator"]),
        // Graphviz's C library for graph layout (no shelling out to `dot`).
        .systemLibrary(name: "CGraphviz", pkgConfig: "libgvc", providers: [.apt(["libgraphviz-dev"])]),
        // Human-facing output: terminal report with bars, dataflow graphs through Graphviz.
        .target(name: "Render", dependencies: ["Simulator", "Analysis", "CGraphviz"]),
        .executableTarget(name: "gpusim", dependencies: [
            "KernLang", "Simulator", "Analysis", "Render",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Helpers shared by the test targets (package root, loading kernels).
        .target(name: "TestSupport", dependencies: ["KernLang"], path: "Tests/TestSupport"),
        .testTarget(name: "KernLangTests", dependencies: ["KernLang", "TestSupport"]),
        .testTarget(name: "SimulatorTests", dependencies: ["KernLang", "Simulator", "Render", "TestSupport"], exclude: ["Diagnostics", "Fixtures"]),
        .testTarget(name: "NumericsTests", dependencies: ["Numerics"]),
        // Runs the built gpusim binary: exit statuses, flags, terminal habits.
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
        .testTarget(name: "AnalysisTests", dependencies: ["KernLang", "Simulator", "Analysis", "TestSupport"]),
        .testTarget(name: "RenderTests", dependencies: ["KernLang", "Simulator", "Analysis", "Render", "TestSupport"], exclude: ["Golden"]),
    ]
)
