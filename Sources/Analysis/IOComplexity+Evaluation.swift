import Foundation
import KernLang
import Simulator

/// Evaluating closed forms at given parameters, and their growth classes.
extension IOComplexity {
    /// Values of every atom for given parameters (and the preset's facts).
    public func atomValues(_ params: [String: ParamValue]) -> [String: Double] {
        var v: [String: Double] = [:]
        for (k, p) in params {
            switch p { case .int(let x): v[k] = Double(x); case .float(let x): v[k] = x; default: break }
        }
        for fact in GPUFact.allCases { v["gpu.\(fact.rawValue)"] = gpu.fact(fact) }
        // Definitions nest (a loop's extent may hold another's atom, bytes rounded up hold tile
        // counts): resolve until nothing more resolves.
        var progress = true
        while progress {
            progress = false
            for (atom, def) in atoms.definitions where v[atom] == nil {
                guard let e = def.extent.evaluate(v), let t = def.size.evaluate(v), t > 0 else { continue }
                progress = true
                switch def.kind {
                case "ceil": v[atom] = (e / t).rounded(.up)
                case "floor": v[atom] = (e / t).rounded(.down)
                case "min": v[atom] = Swift.min(e, t)
                default: v[atom] = e - (e / t).rounded(.down) * t
                }
            }
        }
        return v
    }

    public func peak(_ values: [String: Double]) -> Double? {
        let xs = peakCandidates.compactMap { $0.evaluate(values) }
        return xs.max()
    }

    /// Θ(...) in the size parameter: tile counts become ratios, remainders drop out, and the
    /// terms of highest degree in the size parameter remain.
    public func asymptotic(_ p: Poly) -> String {
        guard let x = sizeParameter else { return "?" }
        var monos: [[String: Double]] = []
        // An atom's growth as powers of parameters: tile counts as ratios (nested ones too);
        // false when it is a remainder, bounded by its tile size.
        func expand(_ atom: String, _ k: Double, into out: inout [String: Double]) -> Bool {
            guard let def = atoms.definitions[atom] else { out[atom, default: 0] += k; return true }
            if def.kind == "mod" { return false }
            guard def.extent.terms.count == 1, def.size.terms.count == 1 else { out[atom, default: 0] += k; return true }
            for (a, q) in def.extent.terms.first!.key where !expand(a, Double(q) * k, into: &out) { return false }
            for (a, q) in def.size.terms.first!.key where !expand(a, -Double(q) * k, into: &out) { return false }
            return true
        }
        for (m, _) in p.terms {
            var out: [String: Double] = [:]
            if m.allSatisfy({ expand($0.key, Double($0.value), into: &out) }) { monos.append(out.filter { $0.value != 0 }) }
        }
        guard let top = monos.map({ $0[x] ?? 0 }).max() else { return "Θ(1)" }
        // Among the terms of top degree, drop those another term bounds (every parameter >= 1).
        let candidates = monos.filter { ($0[x] ?? 0) == top }
        func bounds(_ a: [String: Double], _ b: [String: Double]) -> Bool {
            Set(a.keys).union(b.keys).allSatisfy { (a[$0] ?? 0) >= (b[$0] ?? 0) }
        }
        let leading = candidates.filter { b in !candidates.contains { a in a != b && bounds(a, b) } }
        let lead = Set(leading.map { m -> String in
            let num = m.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { $0.value == 1 ? $0.key : "\($0.key)^\(Self.num($0.value))" }
            let den = m.filter { $0.value < 0 }.sorted { $0.key < $1.key }.map { $0.value == -1 ? $0.key : "\($0.key)^\(Self.num(-$0.value))" }
            let n = num.isEmpty ? "1" : num.joined(separator: " ")
            return den.isEmpty ? n : "\(n) / \(den.joined(separator: " "))"
        }).sorted()
        return "Θ(" + lead.joined(separator: " + ") + ")"
    }

    static func num(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
}
