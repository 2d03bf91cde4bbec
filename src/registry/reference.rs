//! Image references as docker reads them: `[registry[:port]/]path/name[:tag][@sha256:<hex>]`.

use crate::error::{Error, Result};

/// The host Docker Hub's registry API is served from.
pub const DOCKER_HUB: &str = "registry-1.docker.io";
const DOCKER_HUB_ALIASES: &[&str] = &[
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "registry.hub.docker.com",
];

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]` of the registry (Docker Hub is [`DOCKER_HUB`]).
    pub registry: String,
    /// The repository path, e.g. `library/debian`, `openstackhelm/requirements`.
    pub repository: String,
    /// The tag (`latest` when neither a tag nor a digest is given).
    pub tag: Option<String>,
    /// A `sha256:<hex>` digest pinning the manifest.
    pub digest: Option<String>,
}

const FORMS: &str = "accepted forms: NAME[:TAG], NAMESPACE/NAME[:TAG], REGISTRY[:PORT]/PATH/NAME[:TAG], each optionally followed by @sha256:<64 hex digits>; e.g. openstackhelm/requirements:2024.1-ubuntu_jammy or registry.example.com:5000/loci/requirements@sha256:...";

impl Reference {
    /// Parses `s`; `localhost` and anything with `.` or `:` in the first component is a registry.
    pub fn parse(s: &str) -> Result<Reference> {
        let bad = |why: &str| {
            Error::new(format!(
                "WHEELS={} is not a valid image reference: {why}",
                crate::error::cut(s, crate::error::QUOTE_MAX)
            ))
            .hint(FORMS)
        };
        let s_trim = s.trim();
        if s_trim.is_empty() {
            return Err(bad("it is empty"));
        }
        let (rest, digest) = match s_trim.split_once('@') {
            Some((r, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("only sha256 digests are supported"))?;
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(bad(
                        "the digest must be sha256: followed by 64 lowercase hex digits",
                    ));
                }
                (r, Some(d.to_string()))
            }
            None => (s_trim, None),
        };
        // The tag is after the last ':' that follows the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                && !t.starts_with(['.', '-']);
            if !ok {
                return Err(bad(&format!("bad tag {t:?} (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')")));
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), path.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        if registry.is_empty() || registry.contains(|c: char| c.is_whitespace() || c == '@') {
            return Err(bad("bad registry host"));
        }
        if let Some((_, port)) = registry.rsplit_once(':') {
            if !registry.ends_with(']') && port.parse::<u16>().is_err() {
                return Err(bad(&format!("bad registry port {port:?}")));
            }
        }
        if path.is_empty() {
            return Err(bad("the repository name is missing"));
        }
        for component in path.split('/') {
            if !valid_component(component) {
                return Err(bad(&format!(
                    "bad repository name component {component:?} (lowercase letters and digits, separated by '.', '_', '__' or '-')"
                )));
            }
        }
        let hub = DOCKER_HUB_ALIASES.contains(&registry.to_ascii_lowercase().as_str());
        let (registry, repository) = if hub {
            let repository = if path.contains('/') {
                path
            } else {
                format!("library/{path}")
            };
            (DOCKER_HUB.to_string(), repository)
        } else {
            (registry, path)
        };
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// Whether this is Docker Hub (always https).
    pub fn is_docker_hub(&self) -> bool {
        self.registry == DOCKER_HUB
    }

    /// What to ask the manifests endpoint for: the digest when pinned, else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            i += 1;
            continue;
        }
        // Separators: '.', '_', '__', or one or more '-'.
        match ch {
            b'.' => i += 1,
            b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if !b
            .get(i)
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_hub_names() {
        let x = r("debian");
        assert_eq!(
            (x.registry.as_str(), x.repository.as_str(), x.tag.as_deref()),
            (DOCKER_HUB, "library/debian", Some("latest"))
        );
        let x = r("openstackhelm/requirements:2024.1-ubuntu_jammy");
        assert_eq!(x.repository, "openstackhelm/requirements");
        assert_eq!(x.tag.as_deref(), Some("2024.1-ubuntu_jammy"));
        assert!(x.is_docker_hub());
        // LOCI's spelling of Docker Hub.
        let x = r("registry.hub.docker.com/loci/requirements:master-ubuntu");
        assert_eq!(
            (x.registry.as_str(), x.repository.as_str()),
            (DOCKER_HUB, "loci/requirements")
        );
        assert_eq!(r("docker.io/ubuntu").repository, "library/ubuntu");
    }

    #[test]
    fn registries_ports_and_digests() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let x = r(&format!("localhost:5000/loci/wheels:1.0@{d}"));
        assert_eq!(x.registry, "localhost:5000");
        assert_eq!(x.repository, "loci/wheels");
        assert_eq!(x.tag.as_deref(), Some("1.0"));
        assert_eq!(x.digest.as_deref(), Some(d.as_str()));
        assert_eq!(x.manifest_ref(), d);
        let x = r(&format!("127.0.0.1:41000/w@{d}"));
        assert_eq!(
            (x.registry.as_str(), x.repository.as_str(), x.tag.as_deref()),
            ("127.0.0.1:41000", "w", None)
        );
        assert_eq!(r("localhost/w").registry, "localhost");
        assert_eq!(r("reg.example.com/a/b/c").repository, "a/b/c");
        // A first component without '.', ':' or localhost is a Docker Hub namespace.
        assert!(r("myorg/w:tag").is_docker_hub());
        assert_eq!(r("localhost:5000/w").to_string(), "localhost:5000/w:latest");
    }

    #[test]
    fn bad_references_show_the_accepted_forms() {
        for bad in [
            "",
            "UPPER",
            "reg:5000/Name:tag",
            "name:",
            "name@sha256:abc",
            "name@md5:0123",
            "reg.example.com/",
            "reg.example.com:port/x",
            "a//b",
            "-x",
            "name:tag with space",
        ] {
            let e = Reference::parse(bad).unwrap_err().to_string();
            assert!(e.contains("is not a valid image reference"), "{bad}: {e}");
            assert!(e.contains("accepted forms"), "{bad}: {e}");
        }
    }
}
