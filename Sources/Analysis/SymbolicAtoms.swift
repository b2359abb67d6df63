import Foundation
import Simulator

/// Derived atoms of closed forms (tile counts, remainders, bytes rounded up) with their
/// definitions; also the arithmetic the shared cost rules run in here.
public final class SymbolicAtoms: CostArithmetic {
    public struct Definition { public let kind: String; public let extent: Poly; public let size: Poly }
    public private(set) var definitions: [String: Definition] = [:]

    public func constant(_ v: Int64) -> Poly { Poly(v) }
    public func multiply(_ a: Poly, _ b: Poly) -> Poly { a * b }
    public func divideRoundingUp(_ a: Poly, by d: Int64) -> Poly { derived("ceil", a, Poly(d)) }

    /// The atom `kind`(extent, size) for kind ceil, floor, mod or min, folded where the result
    /// is a polynomial already (constants; a ceil whose coefficients all divide evenly).
    public func derived(_ kind: String, _ e: Poly, _ t: Poly) -> Poly {
        // Nothing divided (or bounded) by a size is nothing: an empty tile's inner tiles.
        if e.isZero { return Poly() }
        if let x = e.constant, let y = t.constant, y > 0 {
            switch kind {
            case "ceil": return Poly(x / y + (x % y > 0 ? 1 : 0))
            case "floor": return Poly(x / y - (x % y < 0 ? 1 : 0))
            case "min": return Poly(Swift.min(x, y))
            default: return Poly(x - y * (x / y - (x % y < 0 ? 1 : 0)))
            }
        }
        if kind == "ceil" || kind == "floor", let y = t.constant, y > 0, e.terms.values.allSatisfy({ $0 % y == 0 }) {
            return Poly(terms: e.terms.mapValues { $0 / y })
        }
        let (a, b) = (IOComplexity.atomName(e), IOComplexity.atomName(t))
        let name = switch kind { case "mod": "(\(a) mod \(b))"; case "min": "min(\(a),\(b))"; default: "\(kind)(\(a)/\(b))" }
        definitions[name] = Definition(kind: kind, extent: e, size: t)
        return Poly(atom: name)
    }

    /// Whether `a` is `atom` or defined in terms of it.
    func depends(_ a: String, on atom: String) -> Bool {
        if a == atom { return true }
        guard let d = definitions[a] else { return false }
        return (d.extent.atoms.union(d.size.atoms)).contains { depends($0, on: atom) }
    }

    /// `p` with `atom` replaced by `value`, inside derived atoms' definitions too.
    func substitute(_ p: Poly, _ atom: String, _ value: Poly) -> Poly {
        var out = Poly()
        for (m, c) in p.terms {
            var term = Poly(c)
            for (a, k) in m {
                var factor = Poly(atom: a)
                if a == atom { factor = value }
                else if depends(a, on: atom), let d = definitions[a] {
                    factor = derived(d.kind, substitute(d.extent, atom, value), substitute(d.size, atom, value))
                }
                for _ in 0..<k { term = term * factor }
            }
            out = out + term
        }
        return out
    }
}
