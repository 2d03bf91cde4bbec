//! Package URLs (purl): percent-encoding of their segments.

/// Percent-encodes a purl segment as packageurl-python does: letters, digits and `.-_~:` stay.
pub(super) fn purl_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b".-_~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
