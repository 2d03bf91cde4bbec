//! `loci sign` and `loci verify`: signatures and attestations of pushed images, with cosign.
//!
//! For every image a reference names (an index: the index and each of its images), `sign`
//! reads the image from the registry by digest (its config's labels, and
//! `/etc/image_info/sbom.cdx.json` and `inputs.env` out of its layers), then has cosign
//!
//! - sign the digest with a key pair (offline: no transparency log);
//! - attach the image's own CycloneDX SBOM, as it is in the image, as a signed attestation of
//!   predicate type `https://cyclonedx.org/bom`;
//! - attach the SLSA v1 provenance made from the image's labels and inputs
//!   ([`provenance`]) as a signed attestation of type `https://slsa.dev/provenance/v1`.
//!
//! They are stored by cosign's tag scheme, or as OCI 1.1 referrers where the registry has the
//! referrers API ([`cosign::Scheme`]; `--scheme auto` asks the registry). Nothing is added to
//! the image: its digest stays what the build made.
//!
//! `verify` resolves the reference as it is now and checks, for the index and every image:
//! the signature, both attestations (signed by the key, their subject the image's digest),
//! that the SBOM attestation equals the SBOM inside the image, and that the provenance's
//! digests and inputs match the image's labels and inputs.env. The first failure is an error
//! naming the image, the check, and the two values.
//!
//! Every input (the key, cosign, every image and its /etc/image_info) is read before the first
//! signature is pushed.

pub mod cosign;
pub mod image;
pub mod provenance;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::TlsConfig;
use crate::registry::{RegistryConfig, RegistryProtocol};
use crate::say;
use cosign::{Cosign, Kind, Scheme, CYCLONEDX, SLSA_PROVENANCE};
use image::{Resolved, Stored, Target};

/// `--scheme`: where signatures and attestations go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemeArg {
    /// The referrers API when the registry has it, else cosign's tags.
    Auto,
    /// cosign's tag scheme (`sha256-HEX.sig`, `.att`): any registry.
    Tags,
    /// OCI 1.1 referrers (the registry must have the referrers API).
    Referrers,
}

/// `loci sign`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct SignArgs {
    /// The cosign private key (`cosign generate-key-pair`; its password in COSIGN_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Where the signatures and attestations go.
    #[arg(long, value_enum, default_value_t = SchemeArg::Auto)]
    pub scheme: SchemeArg,
    /// The provenance's builder id (a URI naming the build system).
    #[arg(long, value_name = "URI", default_value = provenance::DEFAULT_BUILDER)]
    pub builder_id: String,
    /// A component of the builder and its version, e.g. `docker=26.1.5` (repeatable).
    #[arg(long, value_name = "NAME=VERSION")]
    pub builder_version: Vec<String>,
    /// Write what was signed (digests of images, signatures and attestations) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Pushed images: `REGISTRY/REPOSITORY:TAG` or `...@sha256:...` (an index signs the index
    /// and each image in it).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `loci verify`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The cosign public key (cosign.pub).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Where to look for signatures and attestations (auto: the referrers, when the registry has
    /// the API and cosign put something there, else the tags).
    #[arg(long, value_enum, default_value_t = SchemeArg::Auto)]
    pub scheme: SchemeArg,
    /// Images to verify, by tag or digest.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// One manifest signed (or verified), for the summary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Signed {
    /// The reference as given.
    pub reference: String,
    /// `REPO@DIGEST`.
    pub image: String,
    pub digest: String,
    /// `linux/amd64`, or `index`.
    pub platform: String,
    pub scheme: Scheme,
    #[serde(flatten)]
    pub stored: Stored,
}

/// cosign's flags for REGISTRY_PROTOCOL and REGISTRY_INSECURE.
fn registry_flags(registry: &RegistryConfig) -> Vec<String> {
    let mut flags = Vec::new();
    if registry.protocol == RegistryProtocol::Http {
        flags.push("--allow-http-registry".to_string());
    }
    if registry.insecure {
        flags.push("--allow-insecure-registry".to_string());
    }
    flags
}

fn check_key(key: &Path, what: &str, hint: &str) -> Result<()> {
    let text = std::fs::read_to_string(key).map_err(|e| {
        Error::new(format!("--key {}: cannot read the {what}", key.display()))
            .caused_by(e)
            .hint(hint.to_string())
    })?;
    let marker = if what.contains("private") {
        "PRIVATE KEY"
    } else {
        "PUBLIC KEY"
    };
    if !text.contains(marker) {
        return Err(Error::new(format!(
            "--key {}: not a PEM {what} (no `{marker}` block)",
            key.display()
        ))
        .hint(hint.to_string()));
    }
    Ok(())
}

/// The scheme for `target` in `resolved`'s registry.
fn pick_scheme(
    arg: SchemeArg,
    resolved: &mut Resolved,
    digest: &str,
    signing: bool,
) -> Result<Scheme> {
    match arg {
        SchemeArg::Tags => Ok(Scheme::Tags),
        SchemeArg::Referrers => match image::referrers(&mut resolved.session, digest)? {
            Some(_) => Ok(Scheme::Referrers),
            None => Err(Error::new(format!(
                "{}: the registry has no OCI referrers API (GET /v2/.../referrers/{digest} answered 404)",
                resolved.given
            ))
            .hint("use --scheme tags (cosign's tag scheme works with every registry) or auto")),
        },
        SchemeArg::Auto => Ok(match image::referrers(&mut resolved.session, digest)? {
            None => Scheme::Tags,
            Some(_) if signing => Scheme::Referrers,
            Some(list) if image::has_cosign_referrers(&list) => Scheme::Referrers,
            Some(_) => Scheme::Tags,
        }),
    }
}

fn parse_builder(args: &SignArgs) -> Result<provenance::Builder> {
    let mut versions = BTreeMap::new();
    for v in &args.builder_version {
        let (k, val) = v
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| {
                Error::new(format!("--builder-version {v:?}: not NAME=VERSION"))
                    .hint("e.g. --builder-version docker=26.1.5")
            })?;
        versions.insert(k.to_string(), val.to_string());
    }
    Ok(provenance::Builder {
        id: args.builder_id.clone(),
        versions,
    })
}

/// What signing will do for one image, all read before anything is pushed.
struct Planned {
    target: Target,
    /// None for an index.
    predicates: Option<(PathBuf, PathBuf, usize)>,
}

/// `loci sign`: signs and attests every image of `args.images`; returns what was stored.
pub fn sign(args: &SignArgs, registry: &RegistryConfig, tls: &TlsConfig) -> Result<Vec<Signed>> {
    check_key(
        &args.key,
        "cosign private key",
        "make a key pair with `cosign generate-key-pair` (COSIGN_PASSWORD sets its password) and pass the cosign.key it writes",
    )?;
    let builder = parse_builder(args)?;
    let cosign = Cosign::new(registry_flags(registry))?;
    let version = cosign.check()?;
    say!("cosign {version}; key {}", args.key.display());

    // 1. Read everything first.
    let mut work: Vec<(Resolved, Scheme, Vec<Planned>)> = Vec::new();
    for (n, given) in args.images.iter().enumerate() {
        let mut resolved = image::resolve(given, registry, tls)?;
        let top = resolved.targets[0].digest.clone();
        let scheme = pick_scheme(args.scheme, &mut resolved, &top, true)?;
        let mut planned = Vec::new();
        for (m, target) in resolved.targets.clone().into_iter().enumerate() {
            if target.is_index() {
                planned.push(Planned {
                    target,
                    predicates: None,
                });
                continue;
            }
            let facts = match image::facts(&mut resolved.session, &target)? {
                image::Described::Facts(f) => f,
                image::Described::NoImageInfo { platform } => {
                    let platform = if target.platform.is_empty() {
                        platform
                    } else {
                        target.platform.clone()
                    };
                    planned.push(Planned {
                        target: Target { platform, ..target },
                        predicates: None,
                    });
                    continue;
                }
            };
            let dir = cosign.scratch().join(format!("{n}-{m}"));
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::new(format!("cannot create {}", dir.display())).caused_by(e))?;
            let sbom = dir.join("sbom.cdx.json");
            let prov = dir.join("provenance.json");
            write_json(&sbom, &facts.sbom)?;
            write_json(&prov, &provenance::predicate(&facts, &builder))?;
            let components = facts.sbom["components"].as_array().map_or(0, Vec::len);
            let target = Target {
                platform: if target.platform.is_empty() {
                    facts.platform.clone()
                } else {
                    target.platform
                },
                ..target
            };
            planned.push(Planned {
                target,
                predicates: Some((sbom, prov, components)),
            });
        }
        work.push((resolved, scheme, planned));
    }

    // 2. Sign and attest.
    let mut signed = Vec::new();
    for (mut resolved, scheme, planned) in work {
        say!(
            "{}: {} manifest(s), {scheme} scheme",
            resolved.given,
            planned.len()
        );
        for p in planned {
            let pinned = &p.target.pinned;
            cosign.sign(&args.key, pinned, scheme)?;
            if let Some((sbom, prov, components)) = &p.predicates {
                cosign.attest(&args.key, pinned, CYCLONEDX, sbom, scheme)?;
                cosign.attest(&args.key, pinned, SLSA_PROVENANCE, prov, scheme)?;
                say!(
                    "  {} {}: signed; CycloneDX SBOM ({components} components) and SLSA provenance attached",
                    p.target.platform,
                    p.target.digest
                );
            } else if p.target.is_index() {
                say!("  {} {}: signed", p.target.platform, p.target.digest);
            } else {
                say!(
                    "  {} {}: signed (no /etc/image_info in the image: no SBOM or provenance to attest)",
                    p.target.platform,
                    p.target.digest
                );
            }
            let stored = stored(&mut resolved, &p.target.digest, scheme)?;
            signed.push(Signed {
                reference: resolved.given.clone(),
                image: pinned.clone(),
                digest: p.target.digest.clone(),
                platform: p.target.platform.clone(),
                scheme,
                stored,
            });
        }
    }
    say!("{}", table(&signed));
    if let Some(path) = &args.summary {
        write_json(path, &serde_json::json!({ "signed": signed }))?;
    }
    Ok(signed)
}

/// The digests of what was signed and attached, one manifest a line (shortened: the summary
/// has them in full).
pub fn table(signed: &[Signed]) -> String {
    let short = |d: Option<&str>| match d {
        Some(d) => d.chars().take(19).collect::<String>(),
        None => "-".to_string(),
    };
    let mut out = format!(
        "{:<48} {:<12} {:<19} {:<19} {:<19} {:<19}",
        "image", "platform", "digest", "signature", "SBOM attestation", "provenance"
    );
    for s in signed {
        let name = s.image.split('@').next().unwrap_or_default();
        let att = |t: &str| short(s.stored.attestations.get(t).map(|a| a.layer.as_str()));
        out.push_str(&format!(
            "\n{:<48} {:<12} {:<19} {:<19} {:<19} {:<19}",
            name,
            s.platform,
            short(Some(&s.digest)),
            short(s.stored.signature.as_deref()),
            att(CYCLONEDX.predicate_type),
            att(SLSA_PROVENANCE.predicate_type),
        ));
    }
    out
}

fn stored(resolved: &mut Resolved, digest: &str, scheme: Scheme) -> Result<Stored> {
    match scheme {
        Scheme::Tags => image::stored_by_tags(&mut resolved.session, digest),
        Scheme::Referrers => {
            Ok(image::stored_by_referrers(&mut resolved.session, digest)?.unwrap_or_default())
        }
    }
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::new(format!("cannot render {}", path.display())).caused_by(e))?;
    text.push('\n');
    std::fs::write(path, text)
        .map_err(|e| Error::new(format!("cannot write {}", path.display())).caused_by(e))
}

/// `loci verify`: checks every image of `args.images`; returns what was verified.
pub fn verify(
    args: &VerifyArgs,
    registry: &RegistryConfig,
    tls: &TlsConfig,
) -> Result<Vec<Signed>> {
    check_key(
        &args.key,
        "cosign public key",
        "pass the cosign.pub of the key pair the images were signed with (`cosign public-key --key cosign.key` prints it)",
    )?;
    let cosign = Cosign::new(registry_flags(registry))?;
    cosign.check()?;
    let mut verified = Vec::new();
    for given in &args.images {
        let mut resolved = image::resolve(given, registry, tls)?;
        let top = resolved.targets[0].digest.clone();
        let scheme = pick_scheme(args.scheme, &mut resolved, &top, false)?;
        let moved = resolved
            .targets
            .first()
            .filter(|_| !given.contains('@'))
            .map(|t| format!(" (the tag names {} now)", t.digest))
            .unwrap_or_default();
        for target in resolved.targets.clone() {
            let what = format!(
                "{given}: {} {}",
                if target.is_index() { "index" } else { "image" },
                target.digest
            );
            // What the registry holds for the digest: tells "never signed" from "signed by
            // another key", which cosign words alike with the referrers scheme.
            let stored = stored(&mut resolved, &target.digest, scheme)?;
            let signed = stored.signature.is_some();
            verify_signature(&cosign, &args.key, &target, scheme, &what, &moved, signed)?;
            let mut platform = target.platform.clone();
            let described = match target.is_index() {
                true => None,
                false => Some(image::facts(&mut resolved.session, &target)?),
            };
            if platform.is_empty() {
                platform = described
                    .as_ref()
                    .map(|d| d.platform().to_string())
                    .unwrap_or_default();
            }
            if let Some(image::Described::Facts(facts)) = &described {
                let what = format!("{given}: image {} ({platform})", target.digest);
                let sboms = attestations(&cosign, &args.key, &target, CYCLONEDX, scheme, &what)?;
                for s in &sboms {
                    let predicate = &s["predicate"];
                    let diff = json_differences(&facts.sbom, predicate, 5);
                    if !diff.is_empty() {
                        return Err(Error::new(format!(
                            "{what}: the CycloneDX SBOM attestation differs from /{} in the image",
                            image::SBOM_PATH
                        ))
                        .cause(format!(
                            "first differences (image / attestation):\n{}",
                            diff.join("\n")
                        ))
                        .hint("the attestation was signed by the key but describes another image: sign this image again (`loci sign`), or find out who attested it"));
                    }
                }
                let provs =
                    attestations(&cosign, &args.key, &target, SLSA_PROVENANCE, scheme, &what)?;
                for p in &provs {
                    let failed: Vec<String> = provenance::check(&p["predicate"], facts)
                        .into_iter()
                        .filter(|c| !c.passed())
                        .map(|c| {
                            format!("{}: image {}, provenance {}", c.what, c.image, c.provenance)
                        })
                        .collect();
                    if !failed.is_empty() {
                        return Err(Error::new(format!(
                            "{what}: the SLSA provenance does not match the image"
                        ))
                        .cause(failed.join("\n"))
                        .hint("the provenance was signed by the key but describes another build: sign this image again (`loci sign`), or find out who attested it"));
                    }
                }
                let components = facts.sbom["components"].as_array().map_or(0, Vec::len);
                say!(
                    "{given}: {platform} {}: signature ok; CycloneDX SBOM ok ({components} components, equal to the image's); SLSA provenance ok (base, wheels, commit, loci, inputs as labelled)",
                    target.digest
                );
            } else if described.is_some() {
                say!(
                    "{given}: {platform} {}: signature ok (no /etc/image_info in the image: nothing attested)",
                    target.digest
                );
            } else {
                say!("{given}: index {}: signature ok", target.digest);
            }
            verified.push(Signed {
                reference: given.clone(),
                image: target.pinned.clone(),
                digest: target.digest.clone(),
                platform,
                scheme,
                stored,
            });
        }
    }
    Ok(verified)
}

fn verify_signature(
    cosign: &Cosign,
    key: &Path,
    target: &Target,
    scheme: Scheme,
    what: &str,
    moved: &str,
    signed: bool,
) -> Result<()> {
    let payloads = match cosign.verify(key, &target.pinned, scheme)? {
        Ok(p) => p,
        Err(f) => {
            let lower = f.reason.to_ascii_lowercase();
            let (why, hint) = if !signed {
                (
                    format!("no signature{moved}"),
                    format!("this digest was never signed ({scheme} scheme): if the tag was moved to another image on purpose, sign that image (`loci sign`); if not, the registry's tag was changed by someone else: deploy by the digest that was signed"),
                )
            } else if lower.contains("invalid signature")
                || lower.contains("failed to verify")
                || lower.contains("no matching signatures")
                || lower.contains("no signatures found")
            {
                (
                    "no signature by this key".to_string(),
                    format!("the image is signed, but not by the key of {}: check that it is the public key of the pipeline that signs these images", key.display()),
                )
            } else {
                (
                    "the signature cannot be checked".to_string(),
                    "see cosign's message".to_string(),
                )
            };
            return Err(Error::new(format!("{what}: {why}"))
                .cause(f.cause())
                .hint(hint));
        }
    };
    for p in &payloads {
        let signed = p["critical"]["image"]["docker-manifest-digest"]
            .as_str()
            .unwrap_or_default();
        if signed != target.digest {
            return Err(
                Error::new(format!("{what}: a signature is for another digest"))
                    .cause(format!("the signature names {signed}"))
                    .hint("the registry holds a signature copied from another image"),
            );
        }
    }
    if payloads.is_empty() {
        return Err(Error::new(format!("{what}: cosign verified no signature"))
            .hint("run `cosign verify` by hand to see why"));
    }
    Ok(())
}

/// The statements of `kind` for `target` that the key verifies, each about `target`'s digest;
/// an error when there are none.
fn attestations(
    cosign: &Cosign,
    key: &Path,
    target: &Target,
    kind: Kind,
    scheme: Scheme,
    what: &str,
) -> Result<Vec<Value>> {
    let statements = match cosign.verify_attestation(key, &target.pinned, kind, scheme)? {
        Ok(s) => s,
        Err(f) => {
            let lower = f.reason.to_ascii_lowercase();
            let hint = if lower.contains("no matching attestations") || lower.contains("signature")
            {
                format!("no {} attached to this digest is signed by the key of {}: an attestation was replaced or added unsigned (or signed by another key); sign the image again with `loci sign`", kind.name, key.display())
            } else {
                "see cosign's message".to_string()
            };
            return Err(Error::new(format!(
                "{what}: the {} attestation does not verify",
                kind.name
            ))
            .cause(f.cause())
            .hint(hint));
        }
    };
    let hex = target.digest.trim_start_matches("sha256:");
    let mut ours = Vec::new();
    for s in statements {
        if s["predicateType"] != kind.predicate_type {
            continue;
        }
        let about_us = s["subject"]
            .as_array()
            .is_some_and(|subjects| subjects.iter().any(|x| x["digest"]["sha256"] == hex));
        if !about_us {
            return Err(Error::new(format!(
                "{what}: a {} attestation is about another image",
                kind.name
            ))
            .cause(format!("its subject: {}", s["subject"]))
            .hint("the registry holds an attestation copied from another image"));
        }
        ours.push(s);
    }
    if ours.is_empty() {
        return Err(Error::new(format!("{what}: no {} attestation", kind.name))
            .hint("sign the image with `loci sign`, which attaches it"));
    }
    Ok(ours)
}

/// Where two JSON values differ: up to `max` lines `PATH: A / B`.
pub fn json_differences(a: &Value, b: &Value, max: usize) -> Vec<String> {
    fn walk(a: Option<&Value>, b: Option<&Value>, path: String, out: &mut Vec<String>, max: usize) {
        if out.len() >= max || a == b {
            return;
        }
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    walk(x.get(k), y.get(k), format!("{path}/{k}"), out, max);
                }
            }
            (Some(Value::Array(x)), Some(Value::Array(y))) => {
                for i in 0..x.len().max(y.len()) {
                    walk(x.get(i), y.get(i), format!("{path}/{i}"), out, max);
                }
            }
            _ => {
                let show = |v: Option<&Value>| {
                    v.map(|v| crate::error::cut(&v.to_string(), 120))
                        .unwrap_or_else(|| "(missing)".into())
                };
                out.push(format!(
                    "{}: {} / {}",
                    if path.is_empty() { "/" } else { &path },
                    show(a),
                    show(b)
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(Some(a), Some(b), String::new(), &mut out, max);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_differences_name_the_paths() {
        let a = json!({"components": [{"name": "keystone", "version": "29.0.0"}], "x": 1});
        let b = json!({"components": [{"name": "keystone", "version": "6.6.6"}], "y": 1});
        let d = json_differences(&a, &b, 5);
        assert_eq!(
            d,
            [
                "/components/0/version: \"29.0.0\" / \"6.6.6\"",
                "/x: 1 / (missing)",
                "/y: (missing) / 1"
            ]
        );
        assert!(json_differences(&a, &a, 5).is_empty());
        assert_eq!(json_differences(&a, &b, 1).len(), 1);
    }

    #[test]
    fn registry_settings_reach_cosign() {
        let mut r = RegistryConfig {
            protocol: RegistryProtocol::Detect,
            insecure: false,
            auth_file: None,
        };
        assert!(registry_flags(&r).is_empty());
        r.protocol = RegistryProtocol::Http;
        r.insecure = true;
        assert_eq!(
            registry_flags(&r),
            ["--allow-http-registry", "--allow-insecure-registry"]
        );
    }

    #[test]
    fn keys_are_checked_before_anything_runs() {
        let d = tempfile::tempdir().unwrap();
        let k = d.path().join("cosign.key");
        let e = check_key(&k, "cosign private key", "make one").unwrap_err();
        assert!(e.what.contains("cannot read the cosign private key"), "{e}");
        std::fs::write(&k, "-----BEGIN PUBLIC KEY-----\n").unwrap();
        let e = check_key(&k, "cosign private key", "make one").unwrap_err();
        assert!(e.what.contains("PRIVATE KEY"), "{e}");
        std::fs::write(&k, "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n").unwrap();
        check_key(&k, "cosign private key", "make one").unwrap();
    }
}
