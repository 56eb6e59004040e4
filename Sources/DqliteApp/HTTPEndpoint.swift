import FlyingFox
import Foundation

/// An HTTP server on HOST:PORT (IPv4) through FlyingFox, for the metrics endpoint and the demo's API.
public enum HTTPEndpoint {
    /// A server for `address`, not yet running; a clear error for an address that is not HOST:PORT.
    public static func server(on address: String) throws -> HTTPServer {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw HTTPEndpointError("expected HOST:PORT, got '\(address)'")
        }
        let host = String(address[..<colon])
        do {
            return HTTPServer(address: try .inet(ip4: host.isEmpty ? "0.0.0.0" : host, port: port), logger: .disabled)
        } catch {
            throw HTTPEndpointError("'\(host)' is not an IPv4 address (\(error))")
        }
    }
}

public struct HTTPEndpointError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
