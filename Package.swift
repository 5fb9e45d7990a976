// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "eticket",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "eticket", targets: ["eticket"]),
        // For Benchmarks/ (a package of its own): the pure modules whose hot paths it measures.
        .library(name: "Dossiers", targets: ["Dossiers"]),
        .library(name: "Mail", targets: ["Mail"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]),
        .systemLibrary(
            name: "CLibXML2", pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]),
        // libcurl's SMTP client (submission with STARTTLS, implicit TLS, AUTH, connection reuse).
        .systemLibrary(
            name: "CLibCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        // The one Linux call (prctl) that Swift cannot reach without a fixed-arity wrapper.
        .systemLibrary(name: "CProcessControl"),
        .target(
            name: "Postgres",
            dependencies: ["CLibPQ"]),
        .target(
            name: "LocalPostgres",
            dependencies: ["Postgres"]),
        .target(name: "Dossiers"),
        .target(
            name: "Mail",
            dependencies: ["CLibXML2", "Dossiers"]),
        .target(name: "SMTP", dependencies: ["CLibCurl"]),
        .target(
            name: "BackOffice",
            dependencies: [
                "Postgres", "Dossiers", "Mail", "SMTP", "CProcessControl",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "eticket",
            dependencies: [
                "BackOffice", "Dossiers", "LocalPostgres", "Mail", "Postgres", "SMTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "LocalPostgres"]),
        .testTarget(name: "LocalPostgresTests", dependencies: ["LocalPostgres"]),
        .testTarget(name: "DossiersTests", dependencies: ["Dossiers"]),
        // Golden/ holds recorded renderings the tests read by path.
        .testTarget(name: "MailTests", dependencies: ["Mail", "Dossiers", "LocalPostgres"], exclude: ["Golden"]),
        .testTarget(
            name: "BackOfficeTests",
            dependencies: ["BackOffice", "LocalPostgres", "Postgres", "Dossiers", "Mail"]),
        .testTarget(name: "eticketTests", dependencies: ["LocalPostgres", "Postgres", "SMTPTestRelay"]),
        // A real SMTP relay (aiosmtpd) for the tests; never part of the product.
        .target(name: "SMTPTestRelay", dependencies: ["LocalPostgres"], path: "Tests/SMTPTestRelay", exclude: ["smtp_relay.py"]),
        .testTarget(name: "SMTPTests", dependencies: ["SMTP", "SMTPTestRelay"]),
    ],
    swiftLanguageModes: [.v6]
)
