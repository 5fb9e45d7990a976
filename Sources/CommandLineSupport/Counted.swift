/// A count with its noun in agreement: `1 message`, `0 messages`, `2 children`.
///
/// Every summary line says how many of something it did; "1 messages exported" reads as a bug.
/// - Parameters:
///   - singular: the noun for one (`message`, `rights opening`).
///   - plural: the noun for any other count; `singular` + `s` when omitted.
package func counted(_ count: Int, _ singular: String, _ plural: String? = nil) -> String {
    "\(count) \(count == 1 ? singular : plural ?? singular + "s")"
}
