// The result as one JSON object, for machines (CI, dashboards). Written by hand: the library stays free of
// Foundation, and the shape is small and fixed.

extension CheckResult {
    public func json(_ h: History) -> String {
        let w = JSONWriter()
        w.object {
            w.field("valid") { verdict == .unknown ? w.string("unknown") : w.raw(verdict == .valid ? "true" : "false") }
            w.field("verdict") { w.string(verdict.rawValue) }
            w.field("model") { w.string(model.rawValue) }
            w.field("consistency") { w.string(consistency.rawValue) }
            w.field("operations") { w.raw(String(operationCount)) }
            w.field("anomaly-types") { w.array(anomalyCounts) { w.string($0.type) } }
            w.field("anomaly-counts") { w.object { for c in anomalyCounts { w.field(c.type) { w.raw(String(c.count)) } } } }
            w.field("anomalies") {
                w.array(anomalies) { a in
                    w.object {
                        w.field("type") { w.string(a.type) }
                        if let key = a.key { w.field("key") { w.raw(String(key)) } }
                        w.field("operations") {
                            w.array(a.operations) { op in
                                let o = h.operations[op]
                                w.object {
                                    w.field("name") { w.string(h.name(op)) }
                                    w.field("index") { w.raw(String(o.invokeIndex)) }
                                    w.field("process") { w.raw(String(o.process)) }
                                    w.field("invoke-line") { w.raw(String(o.invokeLine)) }
                                    if o.completeLine > 0 { w.field("complete-line") { w.raw(String(o.completeLine)) } }
                                    w.field("value") { w.string(h.describeValue(op)) }
                                }
                            }
                        }
                        if !a.cycle.isEmpty {
                            w.field("cycle") {
                                w.array(a.cycle) { s in
                                    w.object {
                                        w.field("from") { w.string(h.name(s.from)) }
                                        w.field("to") { w.string(h.name(s.to)) }
                                        w.field("edge") { w.string(s.edge) }
                                        w.field("why") { w.string(s.why) }
                                    }
                                }
                            }
                        }
                        w.field("explanation") { w.array(a.explanation) { w.string($0) } }
                    }
                }
            }
            if !unknownReasons.isEmpty { w.field("unknown-reasons") { w.array(unknownReasons) { w.string($0) } } }
            if !notes.isEmpty { w.field("notes") { w.array(notes) { w.string($0) } } }
            w.field("seconds") {
                w.object {
                    w.field("parse") { w.raw(seconds(timings.parse)) }
                    w.field("build") { w.raw(seconds(timings.build)) }
                    w.field("search") { w.raw(seconds(timings.search)) }
                }
            }
        }
        return w.text
    }
}

func seconds(_ d: Duration) -> String {
    let (s, atto) = d.components
    let ms = s * 1000 + atto / 1_000_000_000_000_000
    return "\(ms / 1000).\(String(ms % 1000).leftPadded(to: 3))"
}

extension String {
    func leftPadded(to n: Int, with c: Character = "0") -> String {
        count >= n ? self : String(repeating: c, count: n - count) + self
    }
}

/// A class, so the nested closures that write fields can share it.
final class JSONWriter {
    private(set) var text = ""
    private var needComma = [false]

    private func separate() {
        if needComma[needComma.count - 1] { text += "," }
        needComma[needComma.count - 1] = true
    }

    func raw(_ s: String) { separate(); text += s }

    func string(_ s: String) { separate(); text += jsonQuoted(s) }

    func object(_ body: () -> Void) {
        separate()
        text += "{"
        needComma.append(false)
        body()
        needComma.removeLast()
        text += "}"
    }

    func array<S: Sequence>(_ items: S, _ each: (S.Element) -> Void) {
        separate()
        text += "["
        needComma.append(false)
        for item in items { each(item) }
        needComma.removeLast()
        text += "]"
    }

    /// A field of the enclosing object; `body` writes exactly one value.
    func field(_ name: String, _ body: () -> Void) {
        separate()
        text += jsonQuoted(name) + ":"
        needComma.append(false)
        body()
        needComma.removeLast()
    }
}

/// `s` as a JSON string literal (also used by the chaos runner's history writer).
public func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += "\\u" + String(u.value, radix: 16).leftPadded(to: 4) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
