/// Resolves names, checks kinds, arities, dtypes and ranks, and places automatic frees.
/// Shape and range errors that depend on parameter values are found by the interpreter,
/// with the same diagnostic format.
public struct Checker {
    /// What a name stands for inside a kernel body.
    enum Kind: String { case scalar = "parameter", range = "tile range", integer = "loop index", tile, tensor, dtype }

    struct Binding {
        let kind: Kind
        let slot: Int          // frame slot, or tensor index for tensors
        let span: Span
        var rank = 0           // tensors only
        var role: TensorRole? = nil
    }

    struct KernelSignature {
        let kernel: Kernel
        let index: Int
        var params: [String: Span] = [:]
        var tensors: [String: Span] = [:]
    }

    public typealias Loader = (_ path: String, _ from: SourceFile) -> SourceFile?

    var diagnostics = DiagnosticList()
    var signatures: [String: KernelSignature] = [:]
    var order: [Kernel] = []

    // Per-kernel state.
    var scopes: [[String: Binding]] = []
    var ended: [String: Span] = [:]
    /// Names that failed to resolve or whose definition failed: reported once, silent after.
    var poisoned: Set<String> = []
    var slotNames: [String] = []
    var tensorNames: [String] = []
    var blockLocals: [[Int]] = []
    var autofree = false
    /// Where the kernel being checked declared its `target` and `warps`, if it has.
    var settingSpans: [KernelSetting: Span] = [:]
    var kernelName = ""
    var launches: [(String, Span)] = []

    static let constants: [String: Double] = ["inf": .infinity, "pi": Double.pi]

    /// Parse and check `file` and everything it imports.
    public static func check(file: SourceFile, entry: String? = nil, loader: Loader) -> Result<CheckedProgram, DiagnosticList> {
        var units: [SourceUnit] = []
        var diags = DiagnosticList()
        var seen: Set<String> = []
        func visit(_ f: SourceFile) {
            guard seen.insert(f.path).inserted else { return }
            let (unit, d) = Parser.parse(f)
            diags.items += d.items
            for imp in unit.imports {
                if let g = loader(imp.path, f) { visit(g) } else {
                    diags.append(.error("cannot open imported file '\(imp.path)'", at: imp.span))
                }
            }
            units.append(unit)
        }
        visit(file)
        if diags.hasErrors { return .failure(diags) }
        var checker = Checker()
        let result = checker.checkUnits(units, mainFile: file, entry: entry)
        diags.items += checker.diagnostics.items
        if diags.hasErrors { return .failure(diags) }
        return .success(result!)
    }

    mutating func error(_ msg: String, _ span: Span, notes: [Diagnostic.Note] = []) {
        diagnostics.append(.error(msg, at: span, notes: notes))
    }

    mutating func checkUnits(_ units: [SourceUnit], mainFile: SourceFile, entry: String?) -> CheckedProgram? {
        for unit in units {
            for k in unit.kernels {
                if let prev = signatures[k.name.name] {
                    error("kernel '\(k.name.name)' is defined twice", k.name.span, notes: [.init("first defined here", at: prev.kernel.name.span)])
                    continue
                }
                var sig = KernelSignature(kernel: k, index: order.count)
                for s in k.body {
                    if case .param(let n, _) = s.kind { sig.params[n.name] = n.span }
                    if case .tensor(_, let n, _, _, _) = s.kind { sig.tensors[n.name] = n.span }
                }
                signatures[k.name.name] = sig
                order.append(k)
            }
        }
        var checked: [CheckedKernel] = []
        var launchGraph: [String: [(String, Span)]] = [:]
        for k in order {
            checked.append(checkKernel(k))
            launchGraph[k.name.name] = launches
        }
        // Launch cycles would recurse forever at run time.
        var state: [String: Int] = [:]
        func dfs(_ n: String) {
            state[n] = 1
            for (callee, span) in launchGraph[n] ?? [] {
                if state[callee] == 1 { error("kernel '\(n)' launches '\(callee)', which leads back to '\(n)' (recursive launch)", span) }
                else if state[callee] == nil { dfs(callee) }
            }
            state[n] = 2
        }
        for k in order where state[k.name.name] == nil { dfs(k.name.name) }

        let mainKernels = units.last(where: { $0.file === mainFile })?.kernels ?? []
        guard !mainKernels.isEmpty else {
            error("no kernel in this file; expected 'kernel NAME { ... }'", Span(file: mainFile, start: 0, end: 0))
            return nil
        }
        var entryIndex: Int
        if let entry {
            guard let sig = signatures[entry] else {
                diagnostics.append(.error("no kernel named '\(entry)' (--kernel); kernels here: \(order.map(\.name.name).joined(separator: ", "))", at: nil))
                return nil
            }
            entryIndex = sig.index
        } else {
            let base = mainFile.path.split(separator: "/").last.map { String($0.split(separator: ".").first ?? "") } ?? ""
            entryIndex = signatures[base].map(\.index) ?? signatures[mainKernels.last!.name.name]!.index
        }
        if diagnostics.hasErrors { return nil }
        return CheckedProgram(kernels: checked, entry: entryIndex, files: units.map(\.file))
    }

    // MARK: kernels and blocks

    mutating func checkKernel(_ k: Kernel) -> CheckedKernel {
        scopes = [[:]]; ended = [:]; slotNames = []; tensorNames = []; blockLocals = []; launches = []; poisoned = []
        autofree = k.body.contains { if case .autofree = $0.kind { return true }; return false }
        settingSpans = [:]
        kernelName = k.name.name
        var params: [KernelParam] = []
        var tensors: [(String, TensorRole, Int)] = []
        let body = checkBlock(k.body, topLevel: true)
        for s in body.stmts {
            if case .param(let slot, let name, _) = s.kind { params.append(KernelParam(name: name, slot: slot, span: s.span)) }
            if case .tensor(let idx, let role, let name, _, _, _) = s.kind { tensors.append((name, role, idx)) }
        }
        return CheckedKernel(name: k.name.name, doc: k.doc, span: k.span, body: body, slotNames: slotNames,
                             tensorNames: tensorNames, params: params, tensors: tensors)
    }

    func lookup(_ name: String) -> Binding? {
        for scope in scopes.reversed() { if let b = scope[name] { return b } }
        return nil
    }

    mutating func newSlot(_ name: String) -> Int { slotNames.append(name); return slotNames.count - 1 }

    /// Bind a fresh name in the innermost scope, reporting clashes.
    mutating func declare(_ id: Ident, _ kind: Kind, rank: Int = 0, role: TensorRole? = nil) -> Int? {
        if let b = lookup(id.name) {
            error("'\(id.name)' is already defined as a \(b.kind.rawValue)", id.span, notes: [.init("previously defined here", at: b.span)])
            return nil
        }
        if Builtin(rawValue: id.name) != nil || DType(rawValue: id.name) != nil || id.name == "gpu" || Self.constants[id.name] != nil || id.name == "tiles" {
            error("'\(id.name)' is a built-in name and cannot be redefined", id.span)
            return nil
        }
        let slot: Int
        if kind == .tensor { tensorNames.append(id.name); slot = tensorNames.count - 1 } else { slot = newSlot(id.name) }
        scopes[scopes.count - 1][id.name] = Binding(kind: kind, slot: slot, span: id.span, rank: rank, role: role)
        if kind == .tile { blockLocals[blockLocals.count - 1].append(slot) }
        return slot
    }

    mutating func checkBlock(_ stmts: [Stmt], topLevel: Bool = false, loopVar: (Ident, Kind)? = nil) -> RBlock {
        if !topLevel { scopes.append([:]) }
        blockLocals.append([])
        if let (v, kind) = loopVar { _ = declare(v, kind) }
        var out: [RStmt] = []
        for s in stmts { if let r = checkStmt(s, topLevel: topLevel) { out.append(r) } }
        let locals = blockLocals.removeLast()
        if !topLevel {
            for (name, b) in scopes.removeLast() where b.kind == .tile { ended[name] = b.span }
        }
        var block = RBlock(stmts: out, locals: locals)
        if autofree { placeFrees(&block) }
        return block
    }
}
