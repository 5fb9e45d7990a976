import Dossiers
import Foundation

/// Checks of the configuration file that its reader does not make.
public enum ConfigurationFile {
    /// Refuses a configuration file that is not strict JSON (duplicate keys included), naming the
    /// line and column, before the configuration reader sees it.
    public static func validate(_ path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BackOfficeError(.badInput, "\(path): no such configuration file, or not readable")
        }
        do {
            let document = try JSONParser().parse(Array(data))
            guard document.objectValue != nil else {
                throw BackOfficeError(.badInput, "\(path): a configuration file is a JSON object")
            }
        } catch let error as JSONSyntaxError {
            throw BackOfficeError(.badInput, "\(path):\(error.line):\(error.column): not valid JSON: \(error.reason)")
        }
    }
}
