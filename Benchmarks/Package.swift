// swift-tools-version: 6.2
// The benchmarks of the pure hot paths, in a package of their own so that the main build and CI
// never compile package-benchmark (and its jemalloc). Run: cd Benchmarks && swift package benchmark
import PackageDescription

let package = Package(
    name: "eticket-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "eticket", path: ".."),
        // Its default trait needs a package that is not available here; MallocInterposer counts mallocs.
        .package(url: "https://github.com/ordo-one/package-benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Dossiers", package: "eticket"),
                .product(name: "Mail", package: "eticket"),
                "Samples",
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]),
        // A plain render loop to profile with perf (see its main.swift).
        .executableTarget(
            name: "RenderLoop",
            dependencies: [.product(name: "Mail", package: "eticket"), "Samples"],
            path: "Benchmarks/RenderLoop"),
        // What both render: the templates and one family's email context.
        .target(
            name: "Samples",
            dependencies: [.product(name: "Dossiers", package: "eticket"), .product(name: "Mail", package: "eticket")],
            path: "Benchmarks/Samples"),
    ]
)
