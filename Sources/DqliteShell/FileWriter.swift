#if canImport(Glibc)
import Glibc
#endif

/// Writes a dumped file into the current directory, refusing names that would leave it.
enum FileWriter {
    static func write(_ bytes: [UInt8], to name: String) throws {
        guard !name.isEmpty, !name.contains("/"), name != "..", name != "." else {
            throw ShellError("refusing to write a dumped file named '\(name)'")
        }
        guard let f = fopen(name, "wb") else { throw ShellError("cannot write \(name): \(String(cString: strerror(errno)))") }
        defer { fclose(f) }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        guard written == bytes.count else { throw ShellError("short write to \(name)") }
    }
}
