import Foundation

/// Reads a file (or standard input) as lines of bytes, however long, without loading it whole.
///
/// Lines end at `\n`; a `\r` before it is dropped. The last line needs no newline.
package struct LineReader: Sequence, IteratorProtocol {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    private var exhausted = false
    private(set) var lineNumber = 0

    /// Opens `path`, or standard input for `-`.
    package init(path: String) throws {
        if path == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                let reason = FileManager.default.fileExists(atPath: path) ? "not readable" : "no such file"
                throw BackOfficeError(.badInput, "\(path): \(reason)")
            }
            self.handle = handle
        }
    }

    package mutating func next() -> (number: Int, bytes: ArraySlice<UInt8>)? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                return take(upTo: newline, skipping: 1)
            }
            if exhausted {
                return start < buffer.count ? take(upTo: buffer.count, skipping: 0) : nil
            }
            buffer.removeFirst(start)
            start = 0
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { exhausted = true } else { buffer.append(contentsOf: chunk) }
        }
    }

    private mutating func take(upTo end: Int, skipping separator: Int) -> (number: Int, bytes: ArraySlice<UInt8>) {
        var line = buffer[start..<end]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        start = end + separator
        lineNumber += 1
        return (lineNumber, line)
    }
}
