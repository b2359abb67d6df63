import COpenBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Dense row-major kernels used by `--numeric` runs, in Float32 (the default) or Float64
/// (reference runs). Matrix products go to OpenBLAS.
public enum LinearAlgebra {
    /// C (m x n) = op(A) @ op(B), where op(A) is m x k and op(B) is k x n; A is stored as
    /// (aT ? k x m : m x k) and B as (bT ? n x k : k x n). A large product uses up to
    /// `maxThreads` BLAS threads. The setting is process-wide: threads that run products
    /// concurrently pass 1, after `setThreads(1)`, so that none of them changes it.
    @inlinable
    public static func matmul<T: NumericScalar>(_ a: [T], transposeA aT: Bool, _ b: [T], transposeB bT: Bool,
                                                m: Int, k: Int, n: Int, maxThreads: Int = Int(cores)) -> [T] {
        if T.self == Float.self {
            return unsafeBitCast(sgemm(unsafeBitCast(a, to: [Float].self), aT, unsafeBitCast(b, to: [Float].self), bT, m, k, n, maxThreads), to: [T].self)
        }
        return unsafeBitCast(dgemm(unsafeBitCast(a, to: [Double].self), aT, unsafeBitCast(b, to: [Double].self), bT, m, k, n, maxThreads), to: [T].self)
    }

    /// OpenBLAS's threads spin and yield between calls: for the small products of tiled kernels
    /// that costs more than it gains, so only large products use every core.
    public static let cores = Int32(openblas_get_num_threads())

    /// The BLAS numeric runs use, as a benchmark reports it: OpenBLAS's build line and threads.
    public static var blasDescription: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "OpenBLAS"
        return "\(config.trimmingCharacters(in: .whitespaces)), \(cores) thread\(cores == 1 ? "" : "s") for large products (1 for small ones)"
    }
    static func threads(_ m: Int, _ k: Int, _ n: Int, _ maxThreads: Int) {
        setThreads(m * k * n >= 1 << 24 ? Int(Swift.min(cores, Int32(maxThreads))) : 1)
    }

    /// OpenBLAS's thread count for the products that follow (a process-wide setting).
    public static func setThreads(_ n: Int) {
        if openblas_get_num_threads() != Int32(n) { openblas_set_num_threads(Int32(n)) }
    }

    /// For threads of our own that each run products on one BLAS thread: sets that, and stops
    /// OpenBLAS's pthread workers, which otherwise spin (sched_yield) for ~0.1 s after start-up
    /// and after every threaded product, taking a core from ours (a fifth of a 2-core
    /// machine's time in a numeric run). The next threaded product starts them again. Looked up
    /// at run time: builds without the call (OpenMP) just skip it.
    public static func runOnCallerThreadsOnly() {
        setThreads(1)
        if let stop = stopWorkers { _ = stop() }
    }

    private static let stopWorkers: (@convention(c) () -> Int32)? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "blas_thread_shutdown_") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) () -> Int32).self)
    }()

    /// The shared part of sgemm/dgemm: shapes, leading dimensions, threads; `call` is the typed CBLAS routine.
    static func gemm<T: NumericScalar>(_ a: [T], _ aT: Bool, _ b: [T], _ bT: Bool, _ m: Int, _ k: Int, _ n: Int, _ maxThreads: Int,
                                       _ call: (CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, Int32, Int32, Int32, UnsafePointer<T>, Int32,
                                                UnsafePointer<T>, Int32, UnsafeMutablePointer<T>, Int32) -> Void) -> [T] {
        guard m > 0, n > 0, k > 0 else { return [T](repeating: 0, count: m * n) }
        threads(m, k, n, maxThreads)
        // beta = 0: BLAS writes every element of C without reading it, so C starts uninitialised.
        return [T](unsafeUninitializedCapacity: m * n) { cp, count in
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    call(aT ? CblasTrans : CblasNoTrans, bT ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                         ap.baseAddress!, Int32(aT ? m : k), bp.baseAddress!, Int32(bT ? k : n), cp.baseAddress!, Int32(n))
                }
            }
            count = m * n
        }
    }

    public static func sgemm(_ a: [Float], _ aT: Bool, _ b: [Float], _ bT: Bool, _ m: Int, _ k: Int, _ n: Int, _ maxThreads: Int = Int(cores)) -> [Float] {
        gemm(a, aT, b, bT, m, k, n, maxThreads) { cblas_sgemm(CblasRowMajor, $0, $1, $2, $3, $4, 1, $5, $6, $7, $8, 0, $9, $10) }
    }

    public static func dgemm(_ a: [Double], _ aT: Bool, _ b: [Double], _ bT: Bool, _ m: Int, _ k: Int, _ n: Int, _ maxThreads: Int = Int(cores)) -> [Double] {
        gemm(a, aT, b, bT, m, k, n, maxThreads) { cblas_dgemm(CblasRowMajor, $0, $1, $2, $3, $4, 1, $5, $6, $7, $8, 0, $9, $10) }
    }

    @inlinable
    public static func transpose<T>(_ x: [T], rows: Int, cols: Int) -> [T] {
        guard rows > 0 && cols > 0 else { return [] }
        return [T](unsafeUninitializedCapacity: rows * cols) { out, count in
            for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = x[r * cols + c] } }
            count = rows * cols
        }
    }
}
