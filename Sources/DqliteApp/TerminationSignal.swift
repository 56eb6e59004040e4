import Dispatch
import Foundation
import Synchronization

/// Waiting for SIGTERM or SIGINT, as a node's program does before it hands over and closes.
public enum TerminationSignal {
    /// Returns true when the process gets SIGTERM or SIGINT (both are ignored by default from the first call
    /// on, so the program can stop in order), false when the waiting task is cancelled first.
    @discardableResult
    public static func wait() async -> Bool {
        let waiter = Waiter()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                waiter.set(c)
                for sig in [SIGTERM, SIGINT] {
                    signal(sig, SIG_IGN)
                    let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                    s.setEventHandler { waiter.finish(true) }
                    s.resume()
                    kept.withLock { $0.append(SignalSourceBox(source: s)) }
                }
            }
        } onCancel: {
            waiter.finish(false)
        }
    }

    /// The sources live as long as the process (a released source stops delivering).
    private static let kept = Mutex<[SignalSourceBox]>([])

    /// Resumes its continuation once, with the first outcome; an outcome before the continuation is kept.
    private final class Waiter: Sendable {
        private let state = Mutex<(continuation: CheckedContinuation<Bool, Never>?, outcome: Bool?)>((nil, nil))
        func set(_ c: CheckedContinuation<Bool, Never>) {
            let early = state.withLock { s -> Bool? in
                if let o = s.outcome { return o }
                s.continuation = c
                return nil
            }
            if let early { c.resume(returning: early) }
        }
        func finish(_ outcome: Bool) {
            let c = state.withLock { s -> CheckedContinuation<Bool, Never>? in
                guard s.outcome == nil else { return nil }
                s.outcome = outcome
                defer { s.continuation = nil }
                return s.continuation
            }
            c?.resume(returning: outcome)
        }
    }
}

/// A dispatch source held only to keep it alive.
private struct SignalSourceBox: @unchecked Sendable {
    // @unchecked: never used after it is stored; DispatchSource objects are thread-safe.
    let source: any DispatchSourceSignal
}
