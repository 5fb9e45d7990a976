internal import CLibPQ

extension Connection {
    /// Runs `body` in a transaction: `BEGIN`, the body, `COMMIT`.
    ///
    /// Called inside a transaction (or a savepoint), it runs `body` in a savepoint instead, so
    /// that code written for its own transaction composes into a caller's.
    /// - Parameter body: The work; it receives this connection.
    /// - Returns: What `body` returned, once committed.
    /// - Throws: What `body` threw, after rolling back (the original error even when the
    ///   connection is gone and the rollback fails too). A ``PostgresError`` when `BEGIN` or
    ///   `COMMIT` fails, or when a statement of the body failed but the body swallowed the error:
    ///   PostgreSQL then rolls the whole transaction back at `COMMIT`, and returning normally would
    ///   claim work that was lost.
    @discardableResult
    public func transaction<T>(_ body: (Connection) throws -> T) throws -> T {
        let connection = try openHandle(for: "BEGIN")
        if PQtransactionStatus(connection) != PQTRANS_IDLE {
            return try savepoint(body)
        }
        try execute(script: "BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            if isOpen { try? execute(script: "ROLLBACK") }
            throw error
        }
        if PQtransactionStatus(connection) == PQTRANS_INERROR {
            try? execute(script: "ROLLBACK")
            throw PostgresError(
                code: .client,
                message: "the transaction was rolled back: a statement in it failed and its error was not rethrown",
                query: "COMMIT")
        }
        let result = try query("COMMIT")
        // COMMIT of a transaction the server already aborted answers ROLLBACK, not an error.
        if result.commandTag == "ROLLBACK" {
            throw PostgresError(code: .client, message: "the server rolled the transaction back at COMMIT", query: "COMMIT")
        }
        return value
    }

    /// Runs `body` in a savepoint: `SAVEPOINT`, the body, `RELEASE SAVEPOINT`.
    ///
    /// When `body` throws, its work is undone (`ROLLBACK TO SAVEPOINT`) while the work before the
    /// savepoint stays, and the transaction can go on: one failing item does not lose a batch.
    /// - Parameter body: The work; it receives this connection.
    /// - Returns: What `body` returned.
    /// - Throws: What `body` threw, after rolling back to the savepoint. ``PostgresError`` with
    ///   code `client` outside a transaction.
    @discardableResult
    public func savepoint<T>(_ body: (Connection) throws -> T) throws -> T {
        let connection = try openHandle(for: "SAVEPOINT")
        guard PQtransactionStatus(connection) != PQTRANS_IDLE else {
            throw PostgresError(
                code: .client, message: "a savepoint needs a transaction: call savepoint inside transaction",
                query: "SAVEPOINT")
        }
        savepointCounter += 1
        let name = "sp_\(savepointCounter)"
        try execute(script: "SAVEPOINT \(name)")
        let value: T
        do {
            value = try body(self)
        } catch {
            if isOpen { try? execute(script: "ROLLBACK TO SAVEPOINT \(name); RELEASE SAVEPOINT \(name)") }
            throw error
        }
        try execute(script: "RELEASE SAVEPOINT \(name)")
        return value
    }
}
