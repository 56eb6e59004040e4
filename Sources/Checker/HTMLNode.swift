/// A tiny HTML tree for reports. Every text and attribute value is escaped when rendered; the only unescaped
/// content is `trusted`, which takes a `StaticString`, i.e. a literal in this source, never data from a run
/// (scenario names, paths, logs and commands all go through escaping).
public indirect enum HTMLNode: Sendable {
    case element(String, attributes: [(String, String)], children: [HTMLNode])
    case text(String)
    case trusted(StaticString)

    public static func el(_ tag: String, _ attributes: [(String, String)] = [], _ children: [HTMLNode] = []) -> HTMLNode {
        .element(tag, attributes: attributes, children: children)
    }

    public static func el(_ tag: String, _ attributes: [(String, String)] = [], text: String) -> HTMLNode {
        .element(tag, attributes: attributes, children: [.text(text)])
    }

    /// Elements that have no closing tag.
    static let void: Set<String> = ["meta", "br", "hr", "img", "link", "input"]

    public func render() -> String {
        var out = ""
        render(into: &out)
        return out
    }

    func render(into out: inout String) {
        switch self {
        case .text(let s):
            out += HTMLNode.escape(s)
        case .trusted(let s):
            out += s.description
        case .element(let tag, let attributes, let children):
            out += "<" + tag
            for (name, value) in attributes { out += " " + name + "=\"" + HTMLNode.escape(value) + "\"" }
            out += ">"
            if HTMLNode.void.contains(tag) { return }
            for c in children { c.render(into: &out) }
            out += "</" + tag + ">"
            if ["tr", "p", "li", "table", "div", "h1", "h2", "section", "head", "style"].contains(tag) { out += "\n" }
        }
    }

    /// Text and attribute values alike: quotes too, so a value can never leave its attribute.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
