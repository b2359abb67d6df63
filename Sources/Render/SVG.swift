import Foundation

/// What every chart gpusim draws shares: escaping, coordinates to one decimal, and the opening
/// of a white page with its title.
enum SVG {
    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// `<svg ...>`, a white background and the title centred at `titleY`.
    static func open(width: Double, height: Double, title: String, titleY: Double) -> [String] {
        ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">",
         "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
         "<text x=\"\(f(width / 2))\" y=\"\(f(titleY))\" text-anchor=\"middle\" font-size=\"14\">\(esc(title))</text>"]
    }
}
