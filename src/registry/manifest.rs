//! Manifests: Docker schema 2 and manifest lists, OCI image manifests and indexes, and the old
//! schema 1. The wheels are the image's last layer, as in LOCI.

use serde::Deserialize;

use crate::extract::Compression;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The Accept header for manifest requests, preferred types first.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json;q=0.9, application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5, application/vnd.docker.distribution.manifest.v1+json;q=0.5";

/// The gzip of an empty tar that schema 1 uses for layers without content.
pub const EMPTY_GZIP_LAYER: &str =
    "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A content descriptor.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    /// Unknown for schema 1 layers.
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<u32>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<Vec<Descriptor>>,
    layers: Option<Vec<Descriptor>>,
    #[serde(rename = "fsLayers")]
    fs_layers: Option<Vec<FsLayer>>,
    history: Option<Vec<History>>,
}

#[derive(Deserialize)]
struct FsLayer {
    #[serde(rename = "blobSum")]
    blob_sum: String,
}

#[derive(Deserialize)]
struct History {
    #[serde(rename = "v1Compatibility", default)]
    v1_compatibility: String,
}

/// A manifest, reduced to what loci needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// A manifest list / image index: one manifest per platform.
    Index(Vec<Descriptor>),
    /// An image: its layers, base first.
    Image(Vec<Descriptor>),
    /// Schema 1: the layer holding the wheels (the first non-empty entry of fsLayers, which
    /// lists the top layer first).
    Schema1(Descriptor),
}

/// Parses a manifest body; `content_type` is the answer's Content-Type.
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Manifest, String> {
    let raw: Raw = serde_json::from_slice(body).map_err(|e| format!("not a JSON manifest: {e}"))?;
    let ct = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
        .filter(|c| !c.is_empty());
    let kind = raw.media_type.clone().or(ct).unwrap_or_default();
    let is_index = kind == DOCKER_LIST
        || kind == OCI_INDEX
        || (raw.manifests.is_some() && raw.layers.is_none());
    let is_schema1 = raw.schema_version == Some(1) || kind == SCHEMA1 || kind == SCHEMA1_SIGNED;
    if is_schema1 {
        let layers = raw
            .fs_layers
            .ok_or("a schema 1 manifest without fsLayers")?;
        let history = raw.history.unwrap_or_default();
        let throwaway = |i: usize| {
            history.get(i).is_some_and(|h| {
                serde_json::from_str::<serde_json::Value>(&h.v1_compatibility)
                    .ok()
                    .and_then(|v| v.get("throwaway").and_then(|t| t.as_bool()))
                    .unwrap_or(false)
            })
        };
        // fsLayers[0] is the top (last) layer; skip the empty ones metadata-only steps add.
        let top = layers
            .iter()
            .enumerate()
            .find(|(i, l)| l.blob_sum != EMPTY_GZIP_LAYER && !throwaway(*i))
            .map(|(_, l)| l)
            .ok_or("the schema 1 manifest has only empty layers")?;
        return Ok(Manifest::Schema1(Descriptor {
            media_type: "application/vnd.docker.image.rootfs.diff.tar.gzip".into(),
            digest: top.blob_sum.clone(),
            size: None,
            platform: None,
        }));
    }
    if is_index {
        let manifests = raw.manifests.ok_or("an index without manifests")?;
        return Ok(Manifest::Index(manifests));
    }
    match raw.layers {
        Some(layers) => {
            for l in &layers {
                if l.size.is_none() {
                    return Err(format!("layer {} has no size", l.digest));
                }
            }
            Ok(Manifest::Image(layers))
        }
        None => Err(format!("unknown manifest type {kind:?}")),
    }
}

/// The platform loci runs on, in OCI terms (architecture, variant).
pub fn running_platform() -> (&'static str, Option<&'static str>) {
    match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "arm" => ("arm", Some("v7")),
        "x86" => ("386", None),
        "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
        "mips64" if cfg!(target_endian = "little") => ("mips64le", None),
        "loongarch64" => ("loong64", None),
        other => (other, None),
    }
}

/// Picks the linux manifest for `arch` (and `variant` where the index gives one); the error
/// lists what the index offers.
pub fn select<'a>(
    manifests: &'a [Descriptor],
    arch: &str,
    variant: Option<&str>,
) -> Result<&'a Descriptor, String> {
    let candidates: Vec<&Descriptor> = manifests
        .iter()
        .filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == arch)
        })
        .collect();
    let variant_of = |d: &Descriptor| {
        d.platform
            .as_ref()
            .and_then(|p| p.variant.clone())
            .filter(|v| !v.is_empty())
    };
    let chosen = candidates
        .iter()
        .find(|d| variant.is_some() && variant_of(d).as_deref() == variant)
        .or_else(|| candidates.iter().find(|d| variant_of(d).is_none()))
        .or_else(|| candidates.first());
    match chosen {
        Some(d) => Ok(d),
        None => {
            let offered: Vec<String> = manifests
                .iter()
                .map(|d| {
                    d.platform
                        .as_ref()
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "(no platform)".into())
                })
                .collect();
            let want = match variant {
                Some(v) => format!("linux/{arch} (variant {v})"),
                None => format!("linux/{arch}"),
            };
            Err(format!(
                "the index has no image for {want}; it offers: {}",
                offered.join(", ")
            ))
        }
    }
}

/// The compression a layer's media type announces (None when the type does not say).
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    let m = media_type.to_ascii_lowercase();
    if m.ends_with("+gzip") || m.ends_with(".tar.gzip") {
        Some(Compression::Gzip)
    } else if m.ends_with("+zstd") || m.ends_with(".tar.zstd") {
        Some(Compression::Zstd)
    } else if m.ends_with(".tar") || m.ends_with(".v1.tar") {
        Some(Compression::None)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(arch: &str, os: &str, variant: Option<&str>, digest: &str) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: digest.into(),
            size: Some(1),
            platform: Some(Platform {
                architecture: arch.into(),
                os: os.into(),
                variant: variant.map(String::from),
            }),
        }
    }

    #[test]
    fn picks_the_running_platform_and_lists_the_offer_otherwise() {
        let list = vec![
            d("amd64", "windows", None, "w"),
            d("arm64", "linux", Some("v8"), "arm"),
            d("amd64", "linux", None, "x86"),
            d("unknown", "unknown", None, "attestation"),
        ];
        assert_eq!(select(&list, "amd64", None).unwrap().digest, "x86");
        assert_eq!(select(&list, "arm64", Some("v8")).unwrap().digest, "arm");
        let arm_variants = vec![
            d("arm", "linux", Some("v6"), "v6"),
            d("arm", "linux", Some("v7"), "v7"),
        ];
        assert_eq!(
            select(&arm_variants, "arm", Some("v7")).unwrap().digest,
            "v7"
        );
        let e = select(&list, "s390x", None).unwrap_err();
        assert!(
            e.contains("linux/s390x")
                && e.contains("windows/amd64, linux/arm64/v8, linux/amd64, unknown/unknown"),
            "{e}"
        );
    }

    #[test]
    fn schema1_takes_the_first_non_empty_fs_layer() {
        let body = format!(
            r#"{{"schemaVersion": 1, "name": "x", "tag": "t",
                "fsLayers": [{{"blobSum": "{EMPTY_GZIP_LAYER}"}}, {{"blobSum": "sha256:top"}}, {{"blobSum": "sha256:base"}}],
                "history": [{{"v1Compatibility": "{{\"throwaway\":true}}"}}, {{"v1Compatibility": "{{}}"}}, {{"v1Compatibility": "{{}}"}}]}}"#
        );
        match parse(body.as_bytes(), Some(SCHEMA1_SIGNED)).unwrap() {
            Manifest::Schema1(l) => assert_eq!(l.digest, "sha256:top"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn image_and_index_are_told_apart() {
        let image = r#"{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "x", "digest": "sha256:c", "size": 2},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": "sha256:a", "size": 3},
                       {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": "sha256:b", "size": 4}]}"#;
        match parse(image.as_bytes(), None).unwrap() {
            Manifest::Image(l) => assert_eq!(l.last().unwrap().digest, "sha256:b"),
            other => panic!("{other:?}"),
        }
        // OCI manifests may omit mediaType: the Content-Type decides.
        let index = r#"{"schemaVersion": 2, "manifests": [{"mediaType": "x", "digest": "sha256:m", "size": 5, "platform": {"architecture": "amd64", "os": "linux"}}]}"#;
        assert!(matches!(
            parse(
                index.as_bytes(),
                Some("application/vnd.oci.image.index.v1+json")
            )
            .unwrap(),
            Manifest::Index(_)
        ));
        assert!(parse(b"<html>", Some("text/html"))
            .unwrap_err()
            .contains("not a JSON manifest"));
    }

    #[test]
    fn layer_media_types_give_the_compression() {
        assert_eq!(
            layer_compression("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Some(Compression::Gzip)
        );
        assert_eq!(
            layer_compression("application/vnd.oci.image.layer.v1.tar+gzip"),
            Some(Compression::Gzip)
        );
        assert_eq!(
            layer_compression("application/vnd.oci.image.layer.v1.tar+zstd"),
            Some(Compression::Zstd)
        );
        assert_eq!(
            layer_compression("application/vnd.oci.image.layer.v1.tar"),
            Some(Compression::None)
        );
        assert_eq!(layer_compression("application/octet-stream"), None);
    }
}
