import DqliteApp
import DqliteClient
import FlyingFox
import Foundation

/// go-dqlite's dqlite-demo HTTP API: `PUT /KEY` with the value as body answers "done", `GET /KEY` answers
/// the value; each answer ends with a newline, as the Go demo's. Unlike the Go demo (which answers 200 with
/// "Error: ..." for everything), a missing key is a 404, another method a 405 and a database error a 500,
/// with the same texts.
public struct KeyValueAPI: Sendable {
    let store: KeyValueStore

    public init(store: KeyValueStore) { self.store = store }

    /// The answer to `method` on `path` (`/KEY`) with `body`: a status code and the text.
    public func answer(method: String, path: String, body: Data) async -> (status: Int, text: String) {
        let key = String(path.drop { $0 == "/" }).removingPercentEncoding ?? String(path.drop { $0 == "/" })
        guard !key.isEmpty else { return (400, "Error: no key in the path (GET or PUT /KEY)") }
        do {
            switch method {
            case "GET":
                guard let value = try await store.value(key) else { return (404, "Error: no such key") }
                return (200, value)
            case "PUT":
                try await store.put(key, String(decoding: body, as: UTF8.self))
                return (200, "done")
            default:
                return (405, "Error: unsupported method")
            }
        } catch {
            return (500, "Error: \(error)")
        }
    }

    /// Serves the API on `address` (HOST:PORT, IPv4) until the task is cancelled. `listening` is called once
    /// the socket listens.
    public func serve(on address: String, listening: @escaping @Sendable () -> Void = {}) async throws {
        let server = try HTTPEndpoint.server(on: address)
        let api = self
        await server.appendRoute("*") { request in
            let (status, text) = await api.answer(method: request.method.rawValue, path: request.path, body: try await request.bodyData)
            return HTTPResponse(statusCode: HTTPStatusCode(status, phrase: Self.phrase(status)),
                                headers: [.contentType: "text/plain; charset=utf-8"], body: Data((text + "\n").utf8))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            group.addTask {
                try await server.waitUntilListening()
                listening()
            }
            try await group.waitForAll()
        }
    }

    private static func phrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        default: "Internal Server Error"
        }
    }
}
