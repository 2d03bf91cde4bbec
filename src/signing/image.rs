//! What signing and verification read of an image in a registry, by digest: the manifests a
//! reference stands for, the image config's labels, and the files of `/etc/image_info` (the
//! CycloneDX SBOM and the build inputs), read out of the image's layers, every byte checked
//! against its digest.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::TlsConfig;
use crate::registry::manifest::{self, Descriptor};
use crate::registry::{self, blob, RegistryConfig, Session};

/// The SBOM every loci image carries (see `steps/image_info.rs`).
pub const SBOM_PATH: &str = "etc/image_info/sbom.cdx.json";
/// The build arguments every loci image records.
pub const INPUTS_PATH: &str = "etc/image_info/inputs.env";

/// Largest image config and file of /etc/image_info read.
const MAX_CONFIG: u64 = 8 * 1024 * 1024;
const MAX_FILE: u64 = 64 * 1024 * 1024;

/// One manifest to sign or verify: an image, or the index (manifest list) of several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `REGISTRY/REPOSITORY@DIGEST`.
    pub pinned: String,
    pub digest: String,
    /// `linux/amd64` for an image, `index` for a manifest list.
    pub platform: String,
    /// The manifest's layers (base first), empty for an index.
    pub layers: Vec<Descriptor>,
    /// The image config's digest, None for an index.
    pub config: Option<String>,
}

impl Target {
    pub fn is_index(&self) -> bool {
        self.config.is_none()
    }
}

/// A reference resolved in its registry: what it names now, and the session to read it with.
pub struct Resolved {
    pub session: Session,
    /// The reference as given.
    pub given: String,
    /// `REGISTRY/REPOSITORY` (no tag, no digest).
    pub repository: String,
    /// The index first when the reference names one, then its images (BuildKit's attestation
    /// manifests, platform `unknown/unknown`, left out); or the one image.
    pub targets: Vec<Target>,
}

/// Connects to the registry of `given` and resolves it to digests.
pub fn resolve(given: &str, registry: &RegistryConfig, tls: &TlsConfig) -> Result<Resolved> {
    let reference = registry::Reference::parse(given)?;
    let creds = match &registry.auth_file {
        Some(file) => registry::auth::load(file, &reference.registry)?,
        None => None,
    };
    let repository = format!("{}/{}", reference.registry, reference.repository);
    let pinned_digest = reference.digest.clone();
    let manifest_ref = reference.manifest_ref().to_string();
    let mut session = Session::connect_as(given.to_string(), reference, registry, tls, creds)?;
    let top = session.manifest_raw(&manifest_ref, pinned_digest.as_deref())?;
    let mut targets = Vec::new();
    match manifest::parse(&top.body, top.content_type.as_deref()) {
        Ok(manifest::Manifest::Index(children)) => {
            targets.push(Target {
                pinned: format!("{repository}@{}", top.digest),
                digest: top.digest.clone(),
                platform: "index".into(),
                layers: Vec::new(),
                config: None,
            });
            for child in children {
                let platform = child
                    .platform
                    .as_ref()
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                if platform.is_empty() || platform.starts_with("unknown/") {
                    continue;
                }
                let raw = session.manifest_raw(&child.digest, Some(&child.digest))?;
                targets.push(image_target(&repository, raw, platform, given)?);
            }
            if targets.len() == 1 {
                return Err(Error::new(format!("{given}: the index holds no image"))
                    .hint("point at an image, or an index of images for some platforms"));
            }
        }
        Ok(_) => {
            let platform = String::new();
            targets.push(image_target(&repository, top, platform, given)?);
        }
        Err(e) => {
            return Err(Error::new(format!("{given}: cannot use the manifest"))
                .cause(e)
                .hint("loci signs and verifies images (Docker schema 2 or OCI) and their indexes"))
        }
    }
    Ok(Resolved {
        session,
        given: given.to_string(),
        repository,
        targets,
    })
}

fn image_target(
    repository: &str,
    raw: registry::RawManifest,
    platform: String,
    given: &str,
) -> Result<Target> {
    let v: Value = serde_json::from_slice(&raw.body).map_err(|e| {
        Error::new(format!("{given}: manifest {} is not JSON", raw.digest)).caused_by(e)
    })?;
    let config = v["config"]["digest"].as_str().map(str::to_string);
    let layers: Vec<Descriptor> = serde_json::from_value(v["layers"].clone()).unwrap_or_default();
    if config.is_none() || layers.is_empty() {
        return Err(Error::new(format!(
            "{given}: manifest {} is not an image (no config or no layers)",
            raw.digest
        ))
        .hint("loci signs and verifies images and their indexes (schema 1 manifests are not supported)"));
    }
    Ok(Target {
        pinned: format!("{repository}@{}", raw.digest),
        digest: raw.digest,
        platform,
        layers,
        config,
    })
}

/// What an image says about itself: the labels of its config and the files of
/// /etc/image_info that signing attests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// `os/architecture` of the config.
    pub platform: String,
    pub labels: BTreeMap<String, String>,
    /// /etc/image_info/sbom.cdx.json as JSON.
    pub sbom: Value,
    /// /etc/image_info/inputs.env, in order.
    pub inputs: Vec<(String, String)>,
}

/// An image's facts, or only its platform when it has no /etc/image_info (a requirements
/// image holds only wheels: there is nothing to attest, it is only signed).
#[derive(Debug, Clone, PartialEq)]
pub enum Described {
    Facts(Box<Facts>),
    NoImageInfo { platform: String },
}

impl Described {
    pub fn platform(&self) -> &str {
        match self {
            Described::Facts(f) => &f.platform,
            Described::NoImageInfo { platform } => platform,
        }
    }
}

/// Reads the config and the /etc/image_info files of `target` (an image). Neither file:
/// [`Described::NoImageInfo`]; one without the other is an error.
pub fn facts(session: &mut Session, target: &Target) -> Result<Described> {
    let what = target.pinned.clone();
    let config_digest = target
        .config
        .as_deref()
        .ok_or_else(|| Error::new(format!("{what}: an index has no config")))?;
    let config = blob::bytes(session, config_digest, MAX_CONFIG)?;
    let config: Value = serde_json::from_slice(&config)
        .map_err(|e| Error::new(format!("{what}: the image config is not JSON")).caused_by(e))?;
    let labels: BTreeMap<String, String> = config["config"]["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let platform = format!(
        "{}/{}",
        config["os"].as_str().unwrap_or("unknown"),
        config["architecture"].as_str().unwrap_or("unknown")
    );

    // The top layer holding a file is the one that counts.
    let wanted = [SBOM_PATH, INPUTS_PATH];
    let mut found: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut deleted: Vec<String> = Vec::new();
    for layer in target.layers.iter().rev() {
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| !found.contains_key(*w) && !deleted.iter().any(|d| d == w))
            .collect();
        if missing.is_empty() {
            break;
        }
        let files = blob::read_files(session, layer, &missing, MAX_FILE)?;
        found.extend(files.found);
        deleted.extend(files.deleted);
    }
    if found.is_empty() {
        return Ok(Described::NoImageInfo { platform });
    }
    let file = |path: &str| {
        found.get(path).ok_or_else(|| {
            Error::new(format!("{what}: the image has no /{path}, yet other files of /etc/image_info"))
                .hint("the image was changed after loci built it (a child image removed it?): build it with loci, or run `loci sbom` in the child image")
        })
    };
    let sbom: Value = serde_json::from_slice(file(SBOM_PATH)?)
        .map_err(|e| Error::new(format!("{what}: /{SBOM_PATH} is not JSON")).caused_by(e))?;
    let inputs = String::from_utf8_lossy(file(INPUTS_PATH)?)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(Described::Facts(Box::new(Facts {
        platform,
        labels,
        sbom,
        inputs,
    })))
}

/// The digests of what cosign stored for `digest`: with the tag scheme, the manifests of the
/// tags `sha256-HEX.sig` and `.att` (and, for an attestation, the layer of its predicate type);
/// with the referrers API, the referrers of `digest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stored {
    /// The signature manifest.
    pub signature: Option<String>,
    /// Predicate type -> the manifest holding the attestation and its layer (the DSSE envelope
    /// or the Sigstore bundle).
    pub attestations: BTreeMap<String, Artifact>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Artifact {
    pub manifest: String,
    pub layer: String,
}

/// Cosign's artifact types and annotations.
const COSIGN_SIGNATURE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
const SIGSTORE_BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
const TAG_PREDICATE_ANNOTATION: &str = "predicateType";
const BUNDLE_PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";

/// The tag cosign's tag scheme uses for `digest` and `suffix` (`sig`, `att`).
pub fn cosign_tag(digest: &str, suffix: &str) -> String {
    format!("{}.{suffix}", digest.replace(':', "-"))
}

/// What cosign stored for `digest` with the tag scheme.
pub fn stored_by_tags(session: &mut Session, digest: &str) -> Result<Stored> {
    let mut stored = Stored {
        signature: session
            .find_manifest(&cosign_tag(digest, "sig"), None)?
            .map(|m| m.digest),
        ..Stored::default()
    };
    if let Some(raw) = session.find_manifest(&cosign_tag(digest, "att"), None)? {
        let v: Value = serde_json::from_slice(&raw.body).unwrap_or_default();
        for layer in v["layers"].as_array().into_iter().flatten() {
            if let (Some(kind), Some(d)) = (
                layer["annotations"][TAG_PREDICATE_ANNOTATION].as_str(),
                layer["digest"].as_str(),
            ) {
                stored.attestations.insert(
                    kind.to_string(),
                    Artifact {
                        manifest: raw.digest.clone(),
                        layer: d.to_string(),
                    },
                );
            }
        }
    }
    Ok(stored)
}

/// The referrers of `digest`, when the registry has the referrers API.
pub fn referrers(session: &mut Session, digest: &str) -> Result<Option<Vec<Value>>> {
    Ok(session.referrers(digest)?.map(|body| {
        serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["manifests"].as_array().cloned())
            .unwrap_or_default()
    }))
}

/// What cosign stored for `digest` as referrers (None: the registry has no referrers API).
pub fn stored_by_referrers(session: &mut Session, digest: &str) -> Result<Option<Stored>> {
    let Some(list) = referrers(session, digest)? else {
        return Ok(None);
    };
    let mut stored = Stored::default();
    for r in list {
        let (Some(kind), Some(d)) = (r["artifactType"].as_str(), r["digest"].as_str()) else {
            continue;
        };
        if kind == COSIGN_SIGNATURE {
            stored.signature = Some(d.to_string());
        } else if kind.starts_with(SIGSTORE_BUNDLE_PREFIX) {
            if let Some(predicate) = r["annotations"][BUNDLE_PREDICATE_ANNOTATION].as_str() {
                let raw = session.manifest_raw(d, Some(d))?;
                let v: Value = serde_json::from_slice(&raw.body).unwrap_or_default();
                let layer = v["layers"][0]["digest"].as_str().unwrap_or_default();
                stored.attestations.insert(
                    predicate.to_string(),
                    Artifact {
                        manifest: d.to_string(),
                        layer: layer.to_string(),
                    },
                );
            }
        }
    }
    Ok(Some(stored))
}

/// Whether a referrers list holds anything cosign stored.
pub fn has_cosign_referrers(list: &[Value]) -> bool {
    list.iter().any(|r| {
        r["artifactType"]
            .as_str()
            .is_some_and(|t| t == COSIGN_SIGNATURE || t.starts_with(SIGSTORE_BUNDLE_PREFIX))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_tags_name_the_digest() {
        assert_eq!(cosign_tag("sha256:0bde6fca", "sig"), "sha256-0bde6fca.sig");
    }

    #[test]
    fn cosign_referrers_are_recognised_by_artifact_type() {
        let list: Vec<Value> = serde_json::from_str(
            r#"[{"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"},
                {"artifactType":"application/spdx+json"}]"#,
        )
        .unwrap();
        assert!(has_cosign_referrers(&list));
        assert!(!has_cosign_referrers(&list[1..]));
        assert!(!has_cosign_referrers(&[]));
    }
}
