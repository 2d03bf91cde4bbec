//! The Python distributions of the venv (dist-info METADATA) and the wheels they came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::purl::purl_encode;
use crate::constraints::normalize;
use crate::error::{Context, Error, Result};

/// The venv, relative to the image root.
pub(super) const VENV: &str = "var/lib/openstack";

/// The longest licence name kept from a `License:` header (some hold the whole licence text).
pub(super) const LICENSE_NAME_MAX: usize = 100;

// ---------------------------------------------------------------------------------------------
// Python distributions

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Licenses {
    None,
    /// `License-Expression` (an SPDX expression).
    Expression(String),
    /// `License:` (its first line) and `Classifier: License :: ...` names.
    Names(Vec<String>),
}

impl Licenses {
    pub(super) fn to_json(&self) -> Option<Value> {
        match self {
            Licenses::None => None,
            Licenses::Expression(e) => Some(json!([{ "expression": e }])),
            Licenses::Names(n) => Some(Value::Array(
                n.iter()
                    .map(|n| json!({ "license": { "name": n } }))
                    .collect(),
            )),
        }
    }
}

/// An installed Python distribution, from its dist-info METADATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Dist {
    pub(super) name: String,
    pub(super) version: String,
    pub(super) licenses: Licenses,
    /// The normalised names of `Requires-Dist`, without those only an extra asks for.
    pub(super) requires: Vec<String>,
}

impl Dist {
    pub(super) fn purl(&self) -> String {
        format!(
            "pkg:pypi/{}@{}",
            purl_encode(&normalize(&self.name)),
            purl_encode(&self.version)
        )
    }
}

/// Parses the headers of a METADATA file (core metadata, RFC 822 style). `None` without a
/// name or a version.
pub(super) fn parse_metadata(text: &str) -> Option<Dist> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break; // the description (body) follows
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |key: &str| {
        headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let name = get("name").filter(|n| !n.is_empty())?;
    let version = get("version").filter(|v| !v.is_empty())?;
    let licenses = if let Some(e) = get("license-expression").filter(|e| !e.is_empty()) {
        Licenses::Expression(e)
    } else {
        let mut names: Vec<String> = Vec::new();
        if let Some(l) = get("license") {
            let first = l.lines().next().unwrap_or("").trim();
            if !first.is_empty() && !first.eq_ignore_ascii_case("unknown") {
                names.push(crate::error::cut(first, LICENSE_NAME_MAX));
            }
        }
        for (k, v) in &headers {
            if k != "classifier" {
                continue;
            }
            let parts: Vec<&str> = v.split("::").map(str::trim).collect();
            if parts.len() >= 2 && parts[0] == "License" {
                let last = parts[parts.len() - 1];
                if last != "OSI Approved" && !names.iter().any(|n| n == last) {
                    names.push(last.to_string());
                }
            }
        }
        if names.is_empty() {
            Licenses::None
        } else {
            Licenses::Names(names)
        }
    };
    let requires = headers
        .iter()
        .filter(|(k, _)| k == "requires-dist")
        .filter_map(|(_, v)| {
            let (spec, marker) = match v.split_once(';') {
                Some((s, m)) => (s, m),
                None => (v.as_str(), ""),
            };
            if marker.contains("extra") {
                return None;
            }
            crate::constraints::line_name(spec).map(normalize)
        })
        .collect();
    Some(Dist {
        name,
        version,
        licenses,
        requires,
    })
}

/// Every distribution of the venv (`<root>/var/lib/openstack/lib/python3*/site-packages`),
/// sorted by name and version. No venv: none.
pub(super) fn python_dists(root: &Path) -> Result<Vec<Dist>> {
    let lib = root.join(VENV).join("lib");
    let mut dists = Vec::new();
    for py in sorted_entries(&lib)? {
        let is_python = py
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("python3"));
        if !is_python {
            continue;
        }
        for info in sorted_entries(&py.join("site-packages"))? {
            if info.extension().and_then(|e| e.to_str()) != Some("dist-info") {
                continue;
            }
            let path = info.join("METADATA");
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(Error::new(format!("cannot read {}", path.display()))
                        .caused_by(e)
                        .hint("the SBOM lists every distribution of the venv: check the file's permissions"))
                }
            };
            if let Some(d) = parse_metadata(&String::from_utf8_lossy(&bytes)) {
                dists.push(d);
            }
        }
    }
    dists.sort_by_key(Dist::purl);
    dists.dedup_by(|a, b| a.purl() == b.purl());
    Ok(dists)
}

/// The entries of a directory, sorted; a missing directory has none.
pub(super) fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => return Err(Error::new(format!("cannot list {}", dir.display())).caused_by(e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.context(|| format!("cannot list {}", dir.display()))?;
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

/// A version as wheel file names spell it (`-` becomes `_`).
pub(super) fn wheel_version(version: &str) -> String {
    version.replace('-', "_")
}

/// The wheels of a directory by (normalised name, version): `{name}-{version}-...whl`.
/// A missing directory (the runtime stage, a removed wheels dir) has none.
pub(super) fn wheel_files(dir: &Path) -> Result<BTreeMap<(String, String), PathBuf>> {
    let mut out = BTreeMap::new();
    for path in sorted_entries(dir)? {
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".whl") else {
            continue;
        };
        let mut parts = stem.split('-');
        if let (Some(name), Some(version)) = (parts.next(), parts.next()) {
            out.entry((normalize(name), wheel_version(version)))
                .or_insert(path);
        }
    }
    Ok(out)
}

pub(super) fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).context(|| format!("cannot read {}", path.display()))?;
    Ok(hex::encode(h.finalize()))
}
