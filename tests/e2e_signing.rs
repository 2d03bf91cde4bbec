//! End to end, signed images: keystone built from pinned inputs, pushed to a real registry on
//! 127.0.0.1 by `tools/publish.sh` (what `REGISTRY=... COSIGN_KEY=... tools/build-keystone.sh`
//! runs after its builds), signed and attested with Debian's cosign, and verified by cosign
//! itself and by `loci verify`; then every kind of tampering, each of which `loci verify` must
//! refuse naming what failed:
//!
//! - the tag moved to another image;
//! - a different key;
//! - an attestation replaced by an unsigned one;
//! - an SBOM attestation (signed by the key) that differs from the SBOM inside the image;
//! - a provenance (signed by the key) whose wheels digest is not the image's.
//!
//! Two registries: Debian's docker-registry 2.8 (no OCI referrers API: cosign's tag scheme) and
//! cue-labs' OCI registry (tests/fixtures/ociregistry, with the referrers API: OCI 1.1
//! referrers, found with cosign and oras). Signing must leave the image as built: the same
//! digest in the registry, the same layers.
//!
//! Needs Docker 26+ (containerd image store: BuildKit's attestations), docker-registry, cosign,
//! oras and the referrers registry built by tools/setup-signing.sh: run it with
//! `sudo tests/run.sh`.

#[path = "support/e2e.rs"]
mod e2e;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use base64::Engine;
use e2e::*;
use serde_json::{json, Value};

const EPOCH: &str = "1700000000";
const CREATED: &str = "2023-11-14T22:13:20Z";
const PASSWORD: &str = "loci-test-password";
const IMAGE: &str = "loci-test/keystone-signed:2026.1";
const OCI_REGISTRY: &str = "target/ociregistry/ociregistry";

fn require_tool(bin: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()));
    assert!(
        found,
        "{bin} is not installed: run the suite with `sudo tests/run.sh` (tools/setup-signing.sh installs cosign and oras from Debian trixie)"
    );
}

/// The registry with the OCI referrers API, killed on drop.
struct OciRegistry {
    child: Child,
    port: u16,
}

impl Drop for OciRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn oci_registry() -> OciRegistry {
    let bin = root().join(OCI_REGISTRY);
    assert!(
        bin.is_file(),
        "{} is missing: run the suite with `sudo tests/run.sh` (LOCI_SETUP_TEST_REGISTRY=1 tools/setup-signing.sh builds it)",
        bin.display()
    );
    let port = free_port();
    let mut child = Command::new(&bin)
        .args(["-addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    wait_for_port(port, "the referrers registry", &mut child);
    OciRegistry { child, port }
}

fn cosign(args: &[&str]) -> Command {
    let mut c = Command::new("cosign");
    c.args(args).env("COSIGN_PASSWORD", PASSWORD);
    c
}

fn loci() -> Command {
    Command::new(loci_binary())
}

/// Runs a command that must fail; returns its stderr and stdout.
fn fails(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!out.status.success(), "{cmd:?} should have failed:\n{text}");
    text
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// GET of a registry path on 127.0.0.1 (curl), with an Accept header; the body.
fn registry_get(host: &str, path: &str, accept: &str) -> Vec<u8> {
    check(Command::new("curl").args([
        "-fsSL",
        "-H",
        &format!("Accept: {accept}"),
        &format!("http://{host}/v2/{path}"),
    ]))
    .stdout
}

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// A manifest of `repo` by tag or digest: its digest and JSON.
fn manifest(host: &str, repo: &str, reference: &str) -> (String, Value) {
    let body = registry_get(
        host,
        &format!("{repo}/manifests/{reference}"),
        MANIFEST_TYPES,
    );
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body))
    );
    (digest, serde_json::from_slice(&body).unwrap())
}

fn blob(host: &str, repo: &str, digest: &str) -> Vec<u8> {
    registry_get(host, &format!("{repo}/blobs/{digest}"), "*/*")
}

fn tags(host: &str, repo: &str) -> Vec<String> {
    let v: Value =
        serde_json::from_slice(&registry_get(host, &format!("{repo}/tags/list"), "*/*")).unwrap();
    v["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `tools/publish.sh IMAGE` with REGISTRY and COSIGN_KEY: its output and the summary.
fn publish(registry: &str, key: &Path, summary: &Path) -> (String, Vec<Value>) {
    let out = check(
        Command::new("bash")
            .arg(root().join("tools/publish.sh"))
            .arg(IMAGE)
            .env("REGISTRY", registry)
            .env("COSIGN_KEY", key)
            .env("COSIGN_PASSWORD", PASSWORD)
            .env("LOCI_SIGN_SUMMARY", summary)
            .env("LOCI_BIN", loci_binary()),
    );
    let summary: Value = serde_json::from_slice(&read(summary)).unwrap();
    let log = text(&out);
    println!("{log}");
    (log, summary["signed"].as_array().unwrap().clone())
}

/// The in-toto statements `cosign verify-attestation` prints (one DSSE envelope a line).
fn statements(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let env: Value = serde_json::from_str(l).unwrap();
            let payload = base64::engine::general_purpose::STANDARD
                .decode(env["payload"].as_str().unwrap())
                .unwrap();
            serde_json::from_slice(&payload).unwrap()
        })
        .collect()
}

fn dependency<'a>(provenance: &'a Value, name: &str) -> &'a Value {
    provenance["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("the provenance has no {name} dependency: {provenance}"))
}

/// `cosign verify-attestation --type KIND` of `pinned` with the public key: its output.
fn verify_attestation(public: &str, kind: &str, pinned: &str) -> Output {
    check(&mut cosign(&[
        "verify-attestation",
        "--key",
        public,
        "--insecure-ignore-tlog=true",
        "--type",
        kind,
        pinned,
    ]))
}

/// Generates a cosign key pair `DIR/PREFIX.key`, `.pub`.
fn key_pair(dir: &Path, prefix: &str) -> (PathBuf, PathBuf) {
    check(cosign(&["generate-key-pair", "--output-key-prefix", prefix]).current_dir(dir));
    (
        dir.join(format!("{prefix}.key")),
        dir.join(format!("{prefix}.pub")),
    )
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn keystone_is_pushed_signed_attested_and_verified_and_tampering_is_refused() {
    require_docker();
    require_tool("cosign");
    require_tool("oras");
    require_tool("curl");
    let _guard = lock();
    let base = base_image();
    let requirements = requirements_image();
    let registry = registry();
    let host = format!("127.0.0.1:{}", registry.port);
    let repo = "loci-test/keystone-signed";

    // Pinned inputs: base and wheels by digest from the registry, the project at a commit.
    let base_ref = format!("{host}/loci-test/base:debian");
    let wheels_ref = format!("{host}/loci-test/requirements:2026.1");
    check(docker().args(["tag", &base, &base_ref]));
    check(docker().args(["tag", &requirements, &wheels_ref]));
    let base_pinned = pushed_digest(&base_ref, &host);
    let wheels_pinned = pushed_digest(&wheels_ref, &host);
    let base_digest = base_pinned.split_once('@').unwrap().1.to_string();
    let wheels_digest = wheels_pinned.split_once('@').unwrap().1.to_string();
    let repos = tempfile::tempdir().unwrap();
    let (keystone, tag) = keystone_repo(repos.path());
    let commit = rev_parse(&keystone, &tag);
    let daemon = git_daemon(repos.path());
    let loci_commit = "1".repeat(40);

    // BuildKit's own provenance, in full (--provenance=mode=max), beside loci's.
    let ctx = Context::new();
    let mut args = ctx.args(
        &base_pinned,
        &[
            ("PROJECT", "keystone"),
            (
                "PROJECT_REPO",
                &format!("git://127.0.0.1:{}/keystone", daemon.port),
            ),
            ("PROJECT_REF", &commit),
            ("PROJECT_RELEASE", "2026.1"),
            ("WHEELS", &wheels_pinned),
            ("KEEP_ALL_WHEELS", "True"),
            ("SOURCE_DATE_EPOCH", EPOCH),
            ("IMAGE_CREATED", CREATED),
            ("LOCI_REVISION", &loci_commit),
        ],
    );
    args.extend(["--provenance=mode=max".into(), "-t".into(), IMAGE.into()]);
    docker_build("keystone-signed", &args, ctx.path());
    drop(daemon);
    let built = image_id(IMAGE);
    let layer_count = stdout(docker().args([
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        IMAGE,
    ]));
    let in_image_sbom: Value =
        serde_json::from_str(&sh_in(IMAGE, "cat /etc/image_info/sbom.cdx.json")).unwrap();

    let keys = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(keys.path(), "cosign");
    let (_, other_public) = key_pair(keys.path(), "other");

    // 1. The main job's publishing: push, sign, attest, verify (tools/publish.sh).
    let started = std::time::Instant::now();
    let summary_path = keys.path().join("signed.json");
    let (log, signed) = publish(&host, &key, &summary_path);
    record(&format!(
        "E2E-SIGN keystone pushed, signed, attested and verified (tag scheme) in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    assert!(log.contains("tags scheme"), "{log}");
    let index = signed
        .iter()
        .find(|s| s["platform"] == "index")
        .unwrap_or_else(|| panic!("no index in the summary: {signed:?}"));
    let amd64 = signed
        .iter()
        .find(|s| s["platform"] == "linux/amd64")
        .unwrap_or_else(|| panic!("no linux/amd64 image in the summary: {signed:?}"));
    let image_digest = amd64["digest"].as_str().unwrap().to_string();
    let pinned = format!("{host}/{repo}@{image_digest}");
    for s in [index, amd64] {
        assert!(
            s["signature"]
                .as_str()
                .is_some_and(|d| d.starts_with("sha256:")),
            "{s}"
        );
        assert_eq!(s["scheme"], "tags");
    }
    for t in [
        "https://cyclonedx.org/bom",
        "https://slsa.dev/provenance/v1",
    ] {
        assert!(
            amd64["attestations"][t]["layer"]
                .as_str()
                .is_some_and(|d| d.starts_with("sha256:")),
            "no {t} attestation digest: {amd64}"
        );
    }

    // The image is the one built: the same index digest in the registry as in the engine
    // (containerd store), the same layers; signing added only tags of its own.
    let (tag_digest, index_json) = manifest(&host, repo, "2026.1");
    assert_eq!(tag_digest, index["digest"].as_str().unwrap());
    assert_eq!(tag_digest, built, "the pushed index is not the image built");
    let (_, image_json) = manifest(&host, repo, &image_digest);
    assert_eq!(
        image_json["layers"].as_array().unwrap().len().to_string(),
        layer_count,
        "signing changed the image's layers"
    );
    let all_tags = tags(&host, repo);
    let hex = image_digest.trim_start_matches("sha256:");
    for t in [format!("sha256-{hex}.sig"), format!("sha256-{hex}.att")] {
        assert!(all_tags.contains(&t), "no tag {t}: {all_tags:?}");
    }

    // cosign itself verifies the signature and both attestations.
    let pub_s = public.display().to_string();
    for digest in [index["digest"].as_str().unwrap(), &image_digest] {
        check(&mut cosign(&[
            "verify",
            "--key",
            &pub_s,
            "--insecure-ignore-tlog=true",
            &format!("{host}/{repo}@{digest}"),
        ]));
    }
    let out = verify_attestation(&pub_s, "cyclonedx", &pinned);
    let sboms = statements(&out.stdout);
    assert_eq!(sboms.len(), 1);
    assert_eq!(sboms[0]["predicateType"], "https://cyclonedx.org/bom");
    assert_eq!(sboms[0]["subject"][0]["digest"]["sha256"], hex);
    assert!(
        sboms[0]["predicate"] == in_image_sbom,
        "the SBOM attestation is not the image's /etc/image_info/sbom.cdx.json"
    );
    let out = verify_attestation(&pub_s, "slsaprovenance1", &pinned);
    let provs = statements(&out.stdout);
    assert_eq!(provs.len(), 1);
    let prov = &provs[0]["predicate"];
    assert_eq!(provs[0]["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(
        dependency(prov, "base")["digest"]["sha256"],
        base_digest.trim_start_matches("sha256:")
    );
    assert_eq!(
        dependency(prov, "wheels")["digest"]["sha256"],
        wheels_digest.trim_start_matches("sha256:")
    );
    assert_eq!(dependency(prov, "source")["digest"]["gitCommit"], commit);
    assert_eq!(dependency(prov, "loci")["digest"]["gitCommit"], loci_commit);
    assert_eq!(
        dependency(prov, "loci")["annotations"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(prov["runDetails"]["metadata"]["finishedOn"], CREATED);
    assert!(
        prov["runDetails"]["builder"]["version"]["docker"].is_string(),
        "{prov}"
    );
    assert_eq!(
        prov["buildDefinition"]["externalParameters"]["buildArgs"]["WHEELS"],
        wheels_pinned
    );

    // The labels: the OCI keys and loci's own.
    let labels: BTreeMap<String, String> = serde_json::from_str(&stdout(docker().args([
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        IMAGE,
    ])))
    .unwrap();
    for (k, v) in [
        ("org.opencontainers.image.revision", commit.as_str()),
        ("org.opencontainers.image.created", CREATED),
        ("org.opencontainers.image.base.digest", base_digest.as_str()),
        ("org.openstack.loci.wheels.digest", wheels_digest.as_str()),
        ("org.openstack.loci.revision", loci_commit.as_str()),
    ] {
        assert_eq!(
            labels.get(k).map(String::as_str),
            Some(v),
            "label {k}: {labels:?}"
        );
    }

    // BuildKit's own SLSA provenance (v0.2, mode=max) is an attestation manifest in the index.
    let att = index_json["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["vnd.docker.reference.type"] == "attestation-manifest")
        .unwrap_or_else(|| panic!("no BuildKit attestation in the index: {index_json}"));
    let (_, att_json) = manifest(&host, repo, att["digest"].as_str().unwrap());
    let layer = &att_json["layers"][0];
    assert_eq!(
        layer["annotations"]["in-toto.io/predicate-type"],
        "https://slsa.dev/provenance/v0.2"
    );
    let buildkit: Value =
        serde_json::from_slice(&blob(&host, repo, layer["digest"].as_str().unwrap())).unwrap();
    let materials = buildkit["predicate"]["materials"].to_string();
    assert!(
        materials.contains(base_digest.trim_start_matches("sha256:")),
        "BuildKit's max provenance does not name the base digest: {materials}"
    );

    // loci verify, by tag: passes.
    let out = check(loci().args(["verify", "--key", &pub_s, &format!("{host}/{repo}:2026.1")]));
    let said = text(&out);
    assert!(
        said.contains("signature ok") && said.contains("CycloneDX SBOM ok"),
        "{said}"
    );

    // 2. Tampering.
    let verify = || {
        let mut c = loci();
        c.args(["verify", "--key", &pub_s, &format!("{host}/{repo}:2026.1")]);
        c
    };
    let resign = || {
        check(
            loci()
                .args(["sign", "--key"])
                .arg(&key)
                .arg(&pinned)
                .env("COSIGN_PASSWORD", PASSWORD),
        );
        check(&mut verify());
    };
    let key_s = key.display().to_string();
    let attest = |kind: &str, predicate: &Value| {
        let file = keys.path().join(format!("{kind}.json"));
        std::fs::write(&file, predicate.to_string()).unwrap();
        check(&mut cosign(&[
            "attest",
            "--key",
            &key_s,
            "--tlog-upload=false",
            "--yes",
            "--replace",
            "--type",
            kind,
            "--predicate",
            &file.display().to_string(),
            &pinned,
        ]));
    };

    // a. Another key.
    let e = fails(loci().args([
        "verify",
        "--key",
        &other_public.display().to_string(),
        &format!("{host}/{repo}:2026.1"),
    ]));
    assert!(e.contains("no signature by this key"), "{e}");

    // b. An SBOM attestation, signed by the key, that is not the image's SBOM.
    let mut evil = in_image_sbom.clone();
    evil["components"][0]["version"] = json!("6.6.6");
    attest("cyclonedx", &evil);
    let e = fails(&mut verify());
    assert!(
        e.contains("the CycloneDX SBOM attestation differs from /etc/image_info/sbom.cdx.json")
            && e.contains("6.6.6"),
        "{e}"
    );
    resign();

    // c. A provenance, signed by the key, with another wheels image.
    let mut other = prov.clone();
    for d in other["buildDefinition"]["resolvedDependencies"]
        .as_array_mut()
        .unwrap()
    {
        if d["name"] == "wheels" {
            d["digest"]["sha256"] = json!("e".repeat(64));
        }
    }
    attest("slsaprovenance1", &other);
    let e = fails(&mut verify());
    assert!(
        e.contains("the SLSA provenance does not match the image")
            && e.contains("wheels image digest")
            && e.contains(&"e".repeat(64)),
        "{e}"
    );
    resign();

    // d. The attestations replaced by an unsigned one (a DSSE envelope whose signature is no
    // signature).
    let out = verify_attestation(&pub_s, "cyclonedx", &pinned);
    let mut envelope: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    envelope["signatures"] = json!([{
        "keyid": "",
        "sig": base64::engine::general_purpose::STANDARD.encode(b"not a signature"),
    }]);
    let unsigned = keys.path().join("unsigned.json");
    std::fs::write(&unsigned, envelope.to_string()).unwrap();
    check(&mut cosign(&[
        "clean",
        "--type",
        "attestation",
        "--force",
        &pinned,
    ]));
    check(&mut cosign(&[
        "attach",
        "attestation",
        "--attestation",
        &unsigned.display().to_string(),
        &pinned,
    ]));
    let e = fails(&mut verify());
    assert!(
        e.contains("the CycloneDX SBOM attestation does not verify")
            && e.contains("no matching attestations"),
        "{e}"
    );
    resign();

    // e. The tag moved to another image.
    let moved = format!("{host}/{repo}:2026.1");
    check(docker().args(["tag", &base, &moved]));
    check(docker().args(["push", &moved]));
    let (now, _) = manifest(&host, repo, "2026.1");
    let e = fails(&mut verify());
    assert!(
        e.contains(&format!("no signature (the tag names {now} now)")),
        "{e}"
    );
    // The image signed is still verified by its digest.
    check(loci().args([
        "verify",
        "--key",
        &pub_s,
        &format!("{host}/{repo}@{tag_digest}"),
    ]));

    // 3. A registry with the OCI referrers API: cosign stores OCI 1.1 referrers, no tags.
    let oci = oci_registry();
    let oci_host = format!("127.0.0.1:{}", oci.port);
    let started = std::time::Instant::now();
    let (log, signed) = publish(&oci_host, &key, &keys.path().join("signed-referrers.json"));
    record(&format!(
        "E2E-SIGN keystone pushed, signed, attested and verified (referrers API) in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    assert!(log.contains("referrers scheme"), "{log}");
    assert!(
        signed.iter().all(|s| s["scheme"] == "referrers"),
        "{signed:?}"
    );
    let amd64 = signed
        .iter()
        .find(|s| s["platform"] == "linux/amd64")
        .unwrap();
    assert_eq!(
        amd64["digest"],
        image_digest.as_str(),
        "another image digest"
    );
    for t in [
        "https://cyclonedx.org/bom",
        "https://slsa.dev/provenance/v1",
    ] {
        assert!(amd64["attestations"][t]["manifest"].is_string(), "{amd64}");
    }
    assert_eq!(tags(&oci_host, repo), ["2026.1"], "cosign made tags");
    let referrers: Value = serde_json::from_slice(&registry_get(
        &oci_host,
        &format!("{repo}/referrers/{image_digest}"),
        "application/vnd.oci.image.index.v1+json",
    ))
    .unwrap();
    assert_eq!(
        referrers["manifests"].as_array().unwrap().len(),
        3,
        "{referrers}"
    );
    let oci_pinned = format!("{oci_host}/{repo}@{image_digest}");
    check(
        cosign(&[
            "verify",
            "--key",
            &pub_s,
            "--insecure-ignore-tlog=true",
            "--experimental-oci11",
            &oci_pinned,
        ])
        .env("COSIGN_EXPERIMENTAL", "1"),
    );
    // oras finds them from the image digest too.
    let discovered = stdout(Command::new("oras").args([
        "discover",
        "--plain-http",
        "--format",
        "json",
        &oci_pinned,
    ]));
    assert!(
        discovered.contains("application/vnd.dev.sigstore.bundle")
            && discovered.contains("application/vnd.dev.cosign.artifact.sig.v1+json"),
        "{discovered}"
    );
    let e = fails(loci().args([
        "verify",
        "--key",
        &other_public.display().to_string(),
        &format!("{oci_host}/{repo}:2026.1"),
    ]));
    assert!(e.contains("no signature by this key"), "{e}");
    drop(oci);
}
