// swift-tools-version: 6.2
import PackageDescription

// Linux only: Postgres and the worker supervisor import Glibc and call prctl, and the bench reads
// /proc; so no `platforms:` entry claims a macOS deployment target the code does not build for.
let package = Package(
    name: "eticket",
    products: [
        .executable(name: "eticket", targets: ["eticket"]),
        // The benchmark, never shipped: `eticket bench` runs it when it is built beside eticket.
        .executable(name: "eticket-bench", targets: ["eticket-bench"]),
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
        // OpenSSL's digests (SHA-256), which libpq and libcurl already load.
        .systemLibrary(
            name: "CLibCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        // The one Linux call (prctl) that Swift cannot reach without a fixed-arity wrapper.
        .systemLibrary(name: "CProcessControl"),
        // The file flags (ioctl) the benchmark sets on its work directory.
        .systemLibrary(name: "CFileFlags"),
        // The civil-calendar arithmetic that both the domain (Dossiers) and the driver (Postgres) use,
        // so that neither depends on the other.
        .target(name: "CivilCalendar"),
        .target(
            name: "Postgres",
            dependencies: ["CLibPQ", "CivilCalendar"]),
        .target(
            name: "LocalPostgres",
            dependencies: ["Postgres"]),
        // The contracts' schemas compiled in from config/contracts (Contract/Schemas links there).
        .target(
            name: "Dossiers",
            dependencies: ["CivilCalendar"],
            resources: [
                .embedInCode("Contract/Schemas/dossier.schema.json"),
                .embedInCode("Contract/Schemas/structures.schema.json"),
            ]),
        .target(
            name: "Mail",
            dependencies: ["CLibXML2", "Dossiers"]),
        .target(name: "SMTP", dependencies: ["CLibCurl"]),
        .target(
            name: "BackOffice",
            dependencies: [
                "Postgres", "Dossiers", "Mail", "SMTP", "CProcessControl", "CLibCrypto",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // SplitMix64, seeded: the benchmark's generator and the fuzz and chaos tests' (not shipped).
        .target(name: "SeededGenerator"),
        // The benchmark (`eticket bench`): never linked into the shipped eticket. It reaches
        // BackOffice's internals through `package` access, not `public`.
        .target(
            name: "ETicketBench",
            dependencies: [
                "BackOffice", "Postgres", "Mail", "SeededGenerator", "CFileFlags",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // What the two executables share: the global options, the configuration layers (flag >
        // environment > file), errors as exit codes, finding each other.
        .target(
            name: "CommandLineSupport",
            dependencies: [
                "BackOffice", "Postgres", "SMTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .executableTarget(
            name: "eticket",
            dependencies: [
                "BackOffice", "CommandLineSupport", "Dossiers", "LocalPostgres", "Mail", "Postgres", "SMTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
            ]),
        // `eticket bench` runs it (see Sources/eticket/Bench.swift); packaging/build-deb ships
        // eticket alone.
        .executableTarget(
            name: "eticket-bench",
            dependencies: [
                "BackOffice", "CommandLineSupport", "ETicketBench", "LocalPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // For the tests only, never linked into eticket: a database per test, the test processes'
        // files, the tags of the slow suites.
        .target(
            name: "TestSupport",
            dependencies: ["LocalPostgres", "Postgres"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "SeededGenerator", "TestSupport"]),
        .testTarget(name: "LocalPostgresTests", dependencies: ["LocalPostgres", "TestSupport"]),
        .testTarget(name: "DossiersTests", dependencies: ["Dossiers"]),
        // Golden/ holds recorded renderings the tests read by path.
        .testTarget(name: "MailTests", dependencies: ["Mail", "Dossiers", "TestSupport"], exclude: ["Golden"]),
        .testTarget(
            name: "BackOfficeTests",
            dependencies: ["BackOffice", "ETicketBench", "Postgres", "Dossiers", "Mail", "SeededGenerator", "TestSupport"]),
        // Runs the built eticket as a process: it needs the executable built, not linked.
        .testTarget(
            name: "eticketTests", dependencies: ["LocalPostgres", "Postgres", "SeededGenerator", "TestSupport", "SMTPTestRelay"]),
        // A real SMTP relay (aiosmtpd) for the tests; never part of the product.
        .target(name: "SMTPTestRelay", dependencies: ["TestSupport"], path: "Tests/SMTPTestRelay", exclude: ["smtp_relay.py"]),
        .testTarget(name: "SMTPTests", dependencies: ["SMTP", "SMTPTestRelay"]),
    ],
    swiftLanguageModes: [.v6]
)
