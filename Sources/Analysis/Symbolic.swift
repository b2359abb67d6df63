import Foundation

/// A polynomial with integer coefficients over named atoms (parameters, tile counts such as
/// ceil(N/Br)), used to write IO complexity in closed form.
public struct Poly: Hashable, Sendable, CustomStringConvertible {
    /// Monomial: atom -> power (positive), kept sorted by atom name.
    public typealias Monomial = [String: Int]
    public var terms: [Monomial: Int64]

    public init(_ c: Int64 = 0) { terms = c == 0 ? [:] : [[:]: c] }
    public init(atom: String) { terms = [[atom: 1]: 1] }

    public var isZero: Bool { terms.isEmpty }
    public var constant: Int64? { terms.isEmpty ? 0 : (terms.count == 1 ? terms[[:]] : nil) }
    public var atoms: Set<String> { Set(terms.keys.flatMap(\.keys)) }

    public static func + (a: Poly, b: Poly) -> Poly {
        var out = a
        for (m, c) in b.terms {
            let v = (out.terms[m] ?? 0) + c
            out.terms[m] = v == 0 ? nil : v
        }
        return out
    }
    public static prefix func - (a: Poly) -> Poly { var o = a; for k in o.terms.keys { o.terms[k]! = -o.terms[k]! }; return o }
    public static func - (a: Poly, b: Poly) -> Poly { a + -b }
    public static func * (a: Poly, b: Poly) -> Poly {
        var out = Poly()
        for (m1, c1) in a.terms {
            for (m2, c2) in b.terms {
                var m = m1
                for (atom, p) in m2 { m[atom, default: 0] += p }
                out = out + Poly(terms: [m: c1 * c2])
            }
        }
        return out
    }
    init(terms: [Monomial: Int64]) { self.terms = terms.filter { $0.value != 0 } }

    public func power(of atom: String) -> [Int: Poly] {
        var out: [Int: Poly] = [:]
        for (m, c) in terms {
            var rest = m
            let k = rest.removeValue(forKey: atom) ?? 0
            out[k, default: Poly()] = out[k, default: Poly()] + Poly(terms: [rest: c])
        }
        return out
    }

    public func substitute(_ atom: String, _ value: Poly) -> Poly {
        var out = Poly()
        for (k, rest) in power(of: atom) {
            var p = rest
            for _ in 0..<k { p = p * value }
            out = out + p
        }
        return out
    }

    public func evaluate(_ values: [String: Double]) -> Double? {
        var total = 0.0
        for (m, c) in terms {
            var v = Double(c)
            for (atom, p) in m {
                guard let x = values[atom] else { return nil }
                v *= pow(x, Double(p))
            }
            total += v
        }
        return total
    }

    static func monomialText(_ m: Monomial) -> String {
        m.sorted { $0.key < $1.key }.map { $0.value == 1 ? $0.key : "\($0.key)^\($0.value)" }.joined(separator: "*")
    }

    /// Highest total degree first, then by text: a stable, readable order.
    public var description: String {
        if terms.isEmpty { return "0" }
        let ordered = terms.sorted { a, b in
            let da = a.key.values.reduce(0, +), db = b.key.values.reduce(0, +)
            return da != db ? da < db : Self.monomialText(a.key) < Self.monomialText(b.key)
        }
        var out = ""
        for (i, (m, c)) in ordered.enumerated() {
            let body = Self.monomialText(m)
            let mag = abs(c)
            let term = body.isEmpty ? "\(mag)" : (mag == 1 ? body : "\(mag)*\(body)")
            out += i == 0 ? (c < 0 ? "-" : "") + term : (c < 0 ? " - " : " + ") + term
        }
        return out
    }
}
