//! Parsing of `/etc/os-release` (freedesktop.org os-release(5)).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::error::{Context, Error, Result};

/// The largest os-release file read (real ones are well under 1 KiB).
const MAX_SIZE: u64 = 64 * 1024;

/// The fields of an os-release file that loci cares about, plus all others in `fields`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OsRelease {
    /// `ID`, lower-case (`debian`, `ubuntu`, `centos`, `rocky`, ...).
    pub id: String,
    /// `ID_LIKE`, split on white space.
    pub id_like: Vec<String>,
    /// `VERSION_ID` (`12`, `22.04`, `9`, `9.4`); empty on Debian testing/sid.
    pub version_id: String,
    /// `VERSION_CODENAME`, or `UBUNTU_CODENAME` when only that is set.
    pub codename: Option<String>,
    /// `PRETTY_NAME` for messages.
    pub pretty_name: String,
    /// Every key, unquoted.
    #[serde(skip)]
    pub fields: BTreeMap<String, String>,
}

impl OsRelease {
    /// Reads and parses an os-release file that must name its distribution (ID).
    pub fn from_file(path: &Path) -> Result<Self> {
        let (os, text) = Self::read(path)?;
        if os.id.is_empty() {
            let what = if text.trim().is_empty() {
                format!("os-release file {} is empty: it has no ID", path.display())
            } else {
                format!(
                    "os-release file {} has no ID (the key naming the distribution)",
                    path.display()
                )
            };
            return Err(Error::new(what).hint(
                "an os-release file has lines like ID=debian and VERSION_ID=12 (see os-release(5)); pass --os-release FILE of the target distribution",
            ));
        }
        Ok(os)
    }

    /// Reads and parses an os-release file, whatever it holds (`loci bindep` reports a missing
    /// ID the way bindep does, later).
    pub fn from_file_any(path: &Path) -> Result<Self> {
        Self::read(path).map(|(os, _)| os)
    }

    fn read(path: &Path) -> Result<(Self, String)> {
        let hint = "pass --os-release FILE, or set DISTRO to the distribution id (debian, ubuntu, centos, rocky)";
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_SIZE + 1).read_to_end(&mut bytes))
            .context(|| format!("cannot read os-release file {}", path.display()))
            .map_err(|e| e.hint(hint))?;
        if bytes.len() as u64 > MAX_SIZE {
            return Err(Error::new(format!(
                "os-release file {} is larger than {} KiB: not an os-release file",
                path.display(),
                MAX_SIZE / 1024
            ))
            .hint(hint));
        }
        let text = String::from_utf8(bytes)
            .context(|| format!("os-release file {} is not UTF-8 text", path.display()))
            .map_err(|e| e.hint(hint))?;
        Ok((Self::parse(&text), text))
    }

    /// Parses os-release text: `KEY=value` lines, values optionally quoted with `"` or `'`,
    /// backslash escapes inside double quotes; comments and blank lines ignored.
    pub fn parse(text: &str) -> Self {
        let mut fields = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            fields.insert(key.trim().to_string(), unquote(value.trim()));
        }
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        let codename = fields
            .get("VERSION_CODENAME")
            .or_else(|| fields.get("UBUNTU_CODENAME"))
            .filter(|c| !c.is_empty())
            .cloned();
        OsRelease {
            id: get("ID").to_ascii_lowercase(),
            id_like: get("ID_LIKE")
                .split_whitespace()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            version_id: get("VERSION_ID"),
            codename,
            pretty_name: get("PRETTY_NAME"),
            fields,
        }
    }
}

fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 && bytes[0] == b'\'' && bytes[bytes.len() - 1] == b'\'' {
        return value[1..value.len() - 1].to_string();
    }
    if bytes.len() >= 2 && bytes[0] == b'"' && bytes[bytes.len() - 1] == b'"' {
        let inner = &value[1..value.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ubuntu_with_quotes_and_ubuntu_codename() {
        let os = OsRelease::parse(
            "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n",
        );
        assert_eq!(os.id, "ubuntu");
        assert_eq!(os.id_like, vec!["debian"]);
        assert_eq!(os.version_id, "22.04");
        assert_eq!(os.codename.as_deref(), Some("jammy"));
        assert_eq!(os.pretty_name, "Ubuntu 22.04.4 LTS");
    }

    #[test]
    fn a_file_without_id_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        let e = OsRelease::from_file(&empty).unwrap_err();
        let s = e.to_string();
        assert!(s.contains(&empty.display().to_string()), "{s}");
        assert!(s.contains("is empty: it has no ID"), "{s}");
        assert!(e.hint.is_some());
        let no_id = dir.path().join("no-id");
        std::fs::write(&no_id, "NAME=Debian\nVERSION_ID=12\n").unwrap();
        let s = OsRelease::from_file(&no_id).unwrap_err().to_string();
        assert!(s.contains("no-id has no ID"), "{s}");
        let s = OsRelease::from_file(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(s.contains("/dev/zero is larger than 64 KiB"), "{s}");
        let binary = dir.path().join("binary");
        std::fs::write(&binary, [0xff, 0xfe, 0]).unwrap();
        let s = OsRelease::from_file(&binary).unwrap_err().to_string();
        assert!(s.contains("binary"), "{s}");
    }

    #[test]
    fn parses_single_quotes_escapes_and_comments() {
        let os = OsRelease::parse(
            "# comment\n\nID='rocky'\nID_LIKE=\"rhel centos fedora\"\nNAME=\"a \\\"b\\\"\"\n",
        );
        assert_eq!(os.id, "rocky");
        assert_eq!(os.id_like, vec!["rhel", "centos", "fedora"]);
        assert_eq!(os.fields["NAME"], "a \"b\"");
        assert_eq!(os.codename, None);
    }
}
