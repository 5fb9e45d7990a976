import Dispatch
import Foundation
import Logging
import Synchronization

/// SIGTERM and SIGINT, the way a worker wants them: the first asks it to finish the batch in hand
/// and stop; the second ends the process at once (its open transaction rolls back, nothing is lost).
public final class ShutdownSignal: Sendable {
    private let requests = Atomic<Int>(0)
    private nonisolated(unsafe) var sources: [any DispatchSourceSignal] = []

    /// A signal that only ``request()`` raises (for tests and embedding).
    public init() {}

    /// Installs the handlers for SIGTERM and SIGINT.
    public static func install(logger: Logger) -> ShutdownSignal {
        let shutdown = ShutdownSignal()
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                // Signals that arrive before the handler runs are merged into one event; `data`
                // counts them, so two quick SIGTERMs still mean "now".
                if shutdown.request(times: max(1, Int(source.data))) > 1 {
                    logger.warning("second signal: exiting now")
                    exit(130)
                }
                logger.info("signal received: finishing the current batch, then exiting")
            }
            source.resume()
            shutdown.sources.append(source)
        }
        return shutdown
    }

    /// Asks for a shutdown; returns how many times it has been asked.
    @discardableResult
    public func request(times: Int = 1) -> Int {
        requests.add(times, ordering: .sequentiallyConsistent).newValue
    }

    var isRequested: Bool { requests.load(ordering: .sequentiallyConsistent) > 0 }
}
