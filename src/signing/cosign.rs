//! cosign, the tool that owns signatures and attestations: its argument vectors for the two
//! ways it stores them in a registry, and what its answers mean.
//!
//! | scheme      | sign                                        | attest                | verify                                   |
//! |-------------|---------------------------------------------|-----------------------|------------------------------------------|
//! | `tags`      | tag `sha256-HEX.sig`                        | tag `sha256-HEX.att`  | `--insecure-ignore-tlog`                 |
//! | `referrers` | `--registry-referrers-mode=oci-1-1` (1.1 referrer, COSIGN_EXPERIMENTAL) | `--new-bundle-format` (a Sigstore bundle as a referrer) | `--experimental-oci11`; attestations `--new-bundle-format --trusted-root` (an empty root: a key needs no CA or log) |
//!
//! Signing is offline: a key pair (`cosign generate-key-pair`), no transparency log upload.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::process::{self, ChildEnv, Cmd};

/// Where cosign keeps signatures and attestations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// cosign's tag scheme: works with any registry (Debian's docker-registry 2.8).
    Tags,
    /// OCI 1.1 referrers: for registries with the referrers API.
    Referrers,
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scheme::Tags => "tags",
            Scheme::Referrers => "referrers",
        })
    }
}

/// An attestation kind: cosign's `--type` and the in-toto predicate type it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub cosign_type: &'static str,
    pub predicate_type: &'static str,
    pub name: &'static str,
}

pub const CYCLONEDX: Kind = Kind {
    cosign_type: "cyclonedx",
    predicate_type: "https://cyclonedx.org/bom",
    name: "CycloneDX SBOM",
};

pub const SLSA_PROVENANCE: Kind = Kind {
    cosign_type: "slsaprovenance1",
    predicate_type: super::provenance::PREDICATE_TYPE,
    name: "SLSA v1 provenance",
};

/// A trusted root with no authority in it: verifying with a key trusts the key alone.
const EMPTY_TRUSTED_ROOT: &str =
    r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#;

/// The cosign to run, and how to reach the registry.
pub struct Cosign {
    pub program: String,
    pub env: ChildEnv,
    /// `--allow-http-registry`, `--allow-insecure-registry` as REGISTRY_PROTOCOL and
    /// REGISTRY_INSECURE ask (cosign takes 127.0.0.1 and localhost over http by itself).
    pub registry_flags: Vec<String>,
    /// Holds the empty trusted root.
    dir: tempfile::TempDir,
}

/// How a cosign run failed: the lines of its standard error that say why.
#[derive(Debug, Clone)]
pub struct Failure {
    pub cmd: String,
    pub reason: String,
}

impl Failure {
    /// The reason, as an error's cause.
    pub fn cause(&self) -> String {
        format!("{}\n(`{}`)", self.reason, self.cmd)
    }
}

impl Cosign {
    pub fn new(registry_flags: Vec<String>) -> Result<Cosign> {
        let dir = tempfile::tempdir()
            .map_err(|e| Error::new("cannot create a temporary directory").caused_by(e))?;
        std::fs::write(dir.path().join("trusted_root.json"), EMPTY_TRUSTED_ROOT)
            .map_err(|e| Error::new("cannot write cosign's trusted root").caused_by(e))?;
        Ok(Cosign {
            program: "cosign".into(),
            env: ChildEnv::default(),
            registry_flags,
            dir,
        })
    }

    /// A directory that lives as long as this value (predicates are written there).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    fn trusted_root(&self) -> PathBuf {
        self.dir.path().join("trusted_root.json")
    }

    /// `cosign version`: cosign is there and runs.
    pub fn check(&self) -> Result<String> {
        let cmd = Cmd::new(&self.program, ["version", "--json"]);
        let out = process::capture(&self.env, &cmd).map_err(|e| {
            Error::new(format!("cannot run `{}`", self.program))
                .caused_by(e)
                .hint("install cosign: apt-get install cosign (Debian trixie and later; tools/setup-signing.sh installs it on bookworm)")
        })?;
        let version = serde_json::from_str::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v["gitVersion"].as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".into());
        Ok(version)
    }

    fn run(&self, cmd: Cmd) -> Result<std::result::Result<String, Failure>> {
        let shown = cmd.to_string();
        let out = process::capture(&self.env, &cmd).map_err(|e| process::spawn_error(&cmd, e))?;
        if out.status.success() {
            return Ok(Ok(out.stdout));
        }
        // cosign ends with `Error: ...` and `error during command execution: ...`; the first
        // says it once.
        let errors: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("Error:"))
            .collect();
        let reason = if errors.is_empty() {
            let lines: Vec<&str> = out.stderr.lines().collect();
            lines[lines.len().saturating_sub(5)..].join("\n")
        } else {
            errors.join("\n")
        };
        Ok(Err(Failure {
            cmd: shown,
            reason: format!(
                "cosign: {} ({})",
                reason.trim(),
                process::describe_status(out.status)
            ),
        }))
    }

    fn cmd(&self, sub: &str, scheme: Scheme) -> Cmd {
        let mut cmd = Cmd::new(&self.program, [sub]).args(&self.registry_flags);
        if scheme == Scheme::Referrers && (sub == "sign" || sub == "verify") {
            cmd = cmd.env("COSIGN_EXPERIMENTAL", "1");
        }
        cmd
    }

    /// Signs `pinned` (`REPO@DIGEST`) with `key`.
    pub fn sign(&self, key: &Path, pinned: &str, scheme: Scheme) -> Result<()> {
        let mut cmd = self.cmd("sign", scheme).args([
            "--key".to_string(),
            key.display().to_string(),
            "--tlog-upload=false".into(),
            "--yes".into(),
        ]);
        if scheme == Scheme::Referrers {
            cmd = cmd.arg("--registry-referrers-mode=oci-1-1");
        }
        self.run(cmd.arg(pinned))?
            .map(drop)
            .map_err(|f| signing_error(&format!("{pinned}: cannot sign"), &f, key))
    }

    /// Attaches `predicate` (a file) to `pinned` as a signed attestation of `kind`.
    pub fn attest(
        &self,
        key: &Path,
        pinned: &str,
        kind: Kind,
        predicate: &Path,
        scheme: Scheme,
    ) -> Result<()> {
        let mut cmd = self.cmd("attest", scheme).args([
            "--key".to_string(),
            key.display().to_string(),
            "--tlog-upload=false".into(),
            "--yes".into(),
            "--type".into(),
            kind.cosign_type.into(),
            "--predicate".into(),
            predicate.display().to_string(),
        ]);
        cmd = match scheme {
            // One attestation of each type: signing again replaces it.
            Scheme::Tags => cmd.arg("--replace"),
            Scheme::Referrers => cmd.arg("--new-bundle-format"),
        };
        self.run(cmd.arg(pinned))?.map(drop).map_err(|f| {
            signing_error(
                &format!("{pinned}: cannot attach the {}", kind.name),
                &f,
                key,
            )
        })
    }

    /// `cosign verify`: the signature payloads of `pinned` that `key` verifies, or why none.
    pub fn verify(
        &self,
        key: &Path,
        pinned: &str,
        scheme: Scheme,
    ) -> Result<std::result::Result<Vec<Value>, Failure>> {
        let mut cmd = self.cmd("verify", scheme).args([
            "--key".to_string(),
            key.display().to_string(),
            "--insecure-ignore-tlog=true".into(),
            "--output".into(),
            "json".into(),
        ]);
        if scheme == Scheme::Referrers {
            cmd = cmd.arg("--experimental-oci11");
        }
        Ok(self
            .run(cmd.arg(pinned))?
            .map(|out| serde_json::from_str::<Vec<Value>>(out.trim()).unwrap_or_default()))
    }

    /// `cosign verify-attestation --type KIND`: the in-toto statements of `kind` attached to
    /// `pinned` that `key` verifies, or why none.
    pub fn verify_attestation(
        &self,
        key: &Path,
        pinned: &str,
        kind: Kind,
        scheme: Scheme,
    ) -> Result<std::result::Result<Vec<Value>, Failure>> {
        let mut cmd = self.cmd("verify-attestation", scheme).args([
            "--key".to_string(),
            key.display().to_string(),
            "--insecure-ignore-tlog=true".into(),
            "--type".into(),
            kind.cosign_type.into(),
        ]);
        if scheme == Scheme::Referrers {
            cmd = cmd.args([
                "--new-bundle-format".to_string(),
                "--trusted-root".into(),
                self.trusted_root().display().to_string(),
            ]);
        }
        Ok(self
            .run(cmd.arg(pinned))?
            .map(|out| out.lines().filter_map(statement).collect()))
    }
}

/// The in-toto statement of one DSSE envelope (a line of `cosign verify-attestation`).
pub fn statement(envelope: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(envelope.trim()).ok()?;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(v["payload"].as_str()?)
        .ok()?;
    serde_json::from_slice(&payload).ok()
}

/// The error of a failed signing run, with a hint for the usual causes.
fn signing_error(what: &str, f: &Failure, key: &Path) -> Error {
    let r = f.reason.to_ascii_lowercase();
    let hint = if r.contains("password") || r.contains("decrypt") {
        format!(
            "cosign could not open the private key {}: set COSIGN_PASSWORD to its password (an empty one for a key made with COSIGN_PASSWORD=)",
            key.display()
        )
    } else if r.contains("no such file") || r.contains("reading key") || r.contains("loading") {
        format!(
            "{} is not a cosign private key: make a key pair with `cosign generate-key-pair` and pass cosign.key",
            key.display()
        )
    } else if r.contains("unauthorized") || r.contains("denied") {
        "the registry refused the push: log in with `docker login` (cosign reads ~/.docker/config.json)".into()
    } else {
        "see cosign's message above; the image itself is unchanged (signatures and attestations are separate registry artifacts)".into()
    };
    Error::new(what.to_string()).cause(f.cause()).hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dsse_envelope_gives_its_statement() {
        let statement_json = r#"{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://cyclonedx.org/bom","subject":[],"predicate":{"bomFormat":"CycloneDX"}}"#;
        let payload = base64::engine::general_purpose::STANDARD.encode(statement_json);
        let line = format!(
            r#"{{"payloadType":"application/vnd.in-toto+json","payload":"{payload}","signatures":[]}}"#
        );
        let s = statement(&line).unwrap();
        assert_eq!(s["predicateType"], "https://cyclonedx.org/bom");
        assert_eq!(s["predicate"]["bomFormat"], "CycloneDX");
        assert!(statement("not json").is_none());
    }

    #[test]
    fn signing_errors_say_what_to_try() {
        let f = Failure {
            cmd: "cosign sign".into(),
            reason: "cosign: Error: reading key: decrypt: encrypted: decryption failed".into(),
        };
        let e = signing_error("x: cannot sign", &f, Path::new("/k/cosign.key"));
        assert!(e.hint.unwrap().contains("COSIGN_PASSWORD"));
        assert!(e.cause.unwrap().contains("decryption failed"));
    }
}
