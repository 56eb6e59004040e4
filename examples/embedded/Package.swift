// swift-tools-version:6.0
// A program that embeds dqlite in Swift through the DqliteApp library product, as a package of its own would.
import PackageDescription

let package = Package(
    name: "embedded-example",
    dependencies: [
        // In your own package: .package(url: "<this repository>", branch: "main")
        .package(name: "dqlite-swift", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "embedded-example", dependencies: [.product(name: "DqliteApp", package: "dqlite-swift")]),
    ],
    swiftLanguageModes: [.v6]
)
