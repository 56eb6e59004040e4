import CoreMetrics
import FlyingFox
import Foundation
import Prometheus

/// The node's metrics in Prometheus's text format at `GET /metrics` (`--metrics HOST:PORT`): swift-metrics,
/// with swift-prometheus as its backend. The backend is bootstrapped once per process, on the first endpoint;
/// a program with its own swift-metrics backend leaves `DqliteAppOptions.metricsAddress` unset and gets the
/// node's metrics through its own.
public enum MetricsEndpoint {
    /// The process's Prometheus registry, swift-metrics bootstrapped with it on first use.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Commits and reads take from tens of microseconds (a lease) to seconds (a failover).
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Serves `/metrics` on `address` until the task is cancelled.
    public static func serve(on address: String) async throws {
        let server = try HTTPEndpoint.server(on: address)
        let registry = Self.registry
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: Data(registry.emitToBuffer()))
        }
        try await server.run()
    }
}
