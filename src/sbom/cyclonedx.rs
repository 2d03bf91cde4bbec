//! The CycloneDX 1.6 document's own parts: properties, the main component, the serial
//! number, the timestamp, and the wheel hashes of an earlier document.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::facts::Facts;
use super::python::Dist;

pub(super) fn property(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

/// The project as the document's main component.
pub(super) fn main_component(facts: &Facts, dist: Option<&Dist>) -> Value {
    let name = if facts.project.is_empty() {
        "unknown"
    } else {
        &facts.project
    };
    let mut c = json!({ "type": "application", "name": name });
    match dist {
        Some(d) => {
            let purl = d.purl();
            c["bom-ref"] = json!(purl);
            c["purl"] = json!(purl);
            c["version"] = json!(d.version);
            if let Some(l) = d.licenses.to_json() {
                c["licenses"] = l;
            }
        }
        None => {
            c["bom-ref"] = json!(format!("loci:project:{name}"));
            if !facts.project_release.is_empty() {
                c["version"] = json!(facts.project_release);
            }
        }
    }
    if !facts.project_repo.is_empty() {
        c["externalReferences"] = json!([{ "type": "vcs", "url": facts.project_repo }]);
    }
    let mut properties = Vec::new();
    if !facts.project_ref.is_empty() {
        properties.push(property("loci:project_ref", &facts.project_ref));
    }
    if let Some(commit) = &facts.project_commit {
        properties.push(property("loci:project_commit", commit));
    }
    if !facts.project_release.is_empty() {
        properties.push(property("loci:project_release", &facts.project_release));
    }
    if !properties.is_empty() {
        c["properties"] = json!(properties);
    }
    c
}

/// `urn:uuid:` and a UUID (version 5 layout) made of the SHA-256 of the document: the same
/// image gives the same serial number, a different one another.
pub(super) fn serial_number(doc: &Value) -> String {
    let digest = Sha256::digest(doc.to_string().as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Seconds since the epoch as RFC 3339 UTC (`2024-05-01T12:00:00Z`).
pub(super) fn rfc3339(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The wheel hashes (and wheel file names) of the Python components of an SBOM document, by
/// purl, for [`Facts::known_hashes`].
pub fn hashes_of(doc: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for c in doc["components"].as_array().into_iter().flatten() {
        if let (Some(purl), false) = (c["purl"].as_str(), c["hashes"].is_null()) {
            out.insert(
                purl.to_string(),
                json!({ "hashes": c["hashes"], "properties": c["properties"] }),
            );
        }
    }
    out
}
