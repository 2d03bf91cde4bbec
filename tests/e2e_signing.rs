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
//! digest in the registry, the same layers. Then the same with cosign 3 (Debian sid's), which
//! stores Sigstore bundles as referrers only: in the OCI referrers tag schema on
//! docker-registry, through the API on the other. Last, a two-platform manifest list from a tiny
//! Dockerfile (`--platform linux/amd64,linux/arm64`): the index and both platforms signed,
//! attested and verified, with cosign 2 and 3; one platform's SBOM swapped for the other's is
//! refused.
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
/// Debian sid's cosign 3, unpacked by tools/setup-signing.sh (the installed one is trixie's 2.5).
const COSIGN3: &str = "target/cosign3/usr/bin/cosign";

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

/// PATH with cosign 3's directory first.
fn cosign3_path() -> String {
    let dir = root().join(COSIGN3).parent().unwrap().to_path_buf();
    assert!(
        dir.join("cosign").is_file(),
        "{} is missing: run the suite with `sudo tests/run.sh` (LOCI_SETUP_TEST_REGISTRY=1 tools/setup-signing.sh unpacks Debian sid's cosign there)",
        dir.display()
    );
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `tools/publish.sh IMAGE` with REGISTRY and COSIGN_KEY: its output and the summary.
fn publish(registry: &str, key: &Path, summary: &Path) -> (String, Vec<Value>) {
    publish_with(
        registry,
        key,
        summary,
        &std::env::var("PATH").unwrap_or_default(),
    )
}

/// [`publish`] with this PATH (the cosign it finds first).
fn publish_with(registry: &str, key: &Path, summary: &Path, path: &str) -> (String, Vec<Value>) {
    publish_image(IMAGE, registry, key, summary, path)
}

/// `tools/publish.sh IMAGE` with REGISTRY, COSIGN_KEY and this PATH: its output and the summary.
fn publish_image(
    image: &str,
    registry: &str,
    key: &Path,
    summary: &Path,
    path: &str,
) -> (String, Vec<Value>) {
    let out = check(
        Command::new("bash")
            .arg(root().join("tools/publish.sh"))
            .arg(image)
            .env("PATH", path)
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

/// `cosign attest --replace`: `predicate` (written to `file`) as the attestation of `kind` of
/// `pinned`, signed by `key`, in place of the one there (cosign 2, tag scheme).
fn attest_replacing(key: &Path, kind: &str, predicate: &Value, file: &Path, pinned: &str) {
    std::fs::write(file, predicate.to_string()).unwrap();
    check(&mut cosign(&[
        "attest",
        "--key",
        &key.display().to_string(),
        "--tlog-upload=false",
        "--yes",
        "--replace",
        "--type",
        kind,
        "--predicate",
        &file.display().to_string(),
        pinned,
    ]));
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
        attest_replacing(
            &key,
            kind,
            predicate,
            &keys.path().join(format!("{kind}.json")),
            &pinned,
        )
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

    // 4. cosign 3 (Debian sid's): Sigstore bundles as OCI referrers, in the fallback tag
    // `sha256-HEX` where the registry has no referrers API, through the API where it has.
    let path3 = cosign3_path();
    let (log, signed) = publish_with(&host, &key, &keys.path().join("signed-3.json"), &path3);
    assert!(
        log.contains("(cosign 3)") && log.contains("referrers-tag scheme"),
        "{log}"
    );
    let amd64 = signed
        .iter()
        .find(|s| s["platform"] == "linux/amd64")
        .unwrap();
    assert_eq!(amd64["scheme"], "referrers-tag");
    assert!(amd64["signature"].is_string(), "{amd64}");
    for t in [
        "https://cyclonedx.org/bom",
        "https://slsa.dev/provenance/v1",
    ] {
        assert!(amd64["attestations"][t]["manifest"].is_string(), "{amd64}");
    }
    assert!(
        tags(&host, repo).contains(&format!("sha256-{hex}")),
        "no referrers tag: {:?}",
        tags(&host, repo)
    );
    let verify3 = |public: &Path, registry: &str| {
        let mut c = loci();
        c.args(["verify", "--key"])
            .arg(public)
            .arg(format!("{registry}/{repo}:2026.1"))
            .env("PATH", &path3);
        c
    };
    let e = fails(&mut verify3(&other_public, &host));
    assert!(e.contains("no signature by this key"), "{e}");
    // An SBOM attestation signed by the key, not the image's.
    let file = keys.path().join("evil-3.json");
    std::fs::write(&file, evil.to_string()).unwrap();
    check(
        Command::new(root().join(COSIGN3))
            .args([
                "attest",
                "--use-signing-config=false",
                "--tlog-upload=false",
                "--yes",
                "--key",
                &key_s,
                "--type",
                "cyclonedx",
                "--predicate",
                &file.display().to_string(),
                &pinned,
            ])
            .env("COSIGN_PASSWORD", PASSWORD),
    );
    let e = fails(&mut verify3(&public, &host));
    assert!(
        e.contains("the CycloneDX SBOM attestation differs from /etc/image_info/sbom.cdx.json"),
        "{e}"
    );
    let (log, signed) = publish_with(
        &oci_host,
        &key,
        &keys.path().join("signed-3-api.json"),
        &path3,
    );
    assert!(
        log.contains("(cosign 3)") && log.contains("referrers scheme"),
        "{log}"
    );
    assert!(
        signed.iter().all(|s| s["scheme"] == "referrers"),
        "{signed:?}"
    );
    let e = fails(&mut verify3(&other_public, &oci_host));
    assert!(e.contains("no signature by this key"), "{e}");
    record(
        "E2E-SIGN cosign 3: referrers tag schema and referrers API, verified, tampering refused",
    );
    drop(oci);
}

/// The /etc/image_info of a tiny image for `arch` under `root`: image_info.json and inputs.env
/// as loci's `info` step writes them, and the SBOM `loci sbom` makes of that root (on this
/// host: no emulation needed for the arm64 half).
fn tiny_image_info(root_dir: &Path, arch: &str) -> Value {
    let info = root_dir.join("etc/image_info");
    std::fs::create_dir_all(&info).unwrap();
    std::fs::write(
        info.join("image_info.json"),
        json!({
            "project": "tiny",
            "project_release": "2026.1",
            "distro": "debian-bookworm",
            "architecture": arch,
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        info.join("inputs.env"),
        format!("PROJECT=tiny\nPROJECT_RELEASE=2026.1\nTARGETPLATFORM=linux/{arch}\n"),
    )
    .unwrap();
    let sbom = check(
        loci()
            .args(["sbom", "--root"])
            .arg(root_dir)
            .env("SOURCE_DATE_EPOCH", EPOCH),
    )
    .stdout;
    std::fs::write(info.join("sbom.cdx.json"), &sbom).unwrap();
    serde_json::from_slice(&sbom).unwrap()
}

/// A manifest list (linux/amd64 + linux/arm64) from a tiny Dockerfile, pushed, signed and
/// attested for both platforms and the index (cosign 2's tag scheme on docker-registry, cosign
/// 3's referrers on the registry with the API), verified platform by platform by cosign and by
/// `loci verify`; one platform's SBOM attestation swapped for the other's is refused, naming
/// that platform. (keystone's index and its linux/amd64 image are signed the same way above.)
#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn both_platforms_of_a_manifest_list_are_signed_attested_and_verified() {
    require_docker();
    require_tool("cosign");
    require_tool("curl");
    let _guard = lock();
    let registry = registry();
    let host = format!("127.0.0.1:{}", registry.port);
    let image = "loci-test/tiny-multi:2026.1";
    let repo = "loci-test/tiny-multi";

    // Each platform's /etc/image_info made by loci; `COPY ${TARGETARCH}/` picks its own.
    let ctx = tempfile::tempdir().unwrap();
    let mut sboms = BTreeMap::new();
    for arch in ["amd64", "arm64"] {
        sboms.insert(
            format!("linux/{arch}"),
            tiny_image_info(&ctx.path().join(arch), arch),
        );
    }
    assert_ne!(sboms["linux/amd64"], sboms["linux/arm64"]);
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM scratch\nARG TARGETARCH\nCOPY ${{TARGETARCH}}/ /\n\
             LABEL org.opencontainers.image.title=tiny org.opencontainers.image.created={CREATED} \
             org.openstack.loci.version={}\n",
            env!("CARGO_PKG_VERSION")
        ),
    )
    .unwrap();
    docker_build(
        "tiny-multi",
        &[
            "--platform".into(),
            "linux/amd64,linux/arm64".into(),
            "-t".into(),
            image.into(),
        ],
        ctx.path(),
    );

    let keys = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(keys.path(), "cosign");
    let pub_s = public.display().to_string();

    let started = std::time::Instant::now();
    let (log, signed) = publish_image(
        image,
        &host,
        &key,
        &keys.path().join("signed.json"),
        &std::env::var("PATH").unwrap_or_default(),
    );
    record(&format!(
        "E2E-SIGN a two-platform manifest list pushed, signed, attested and verified (tag scheme) in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    let platforms: Vec<&str> = signed
        .iter()
        .map(|s| s["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["index", "linux/amd64", "linux/arm64"], "{log}");
    let digest_of = |platform: &str| {
        signed.iter().find(|s| s["platform"] == platform).unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (tag_digest, index_json) = manifest(&host, repo, "2026.1");
    assert_eq!(tag_digest, digest_of("index"));
    for s in &signed {
        assert!(s["signature"].is_string(), "{s}");
        if s["platform"] != "index" {
            // The image in the index for this platform is the one signed.
            let listed = index_json["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| {
                    format!("{}/{}", m["platform"]["os"], m["platform"]["architecture"])
                        .replace('"', "")
                        == s["platform"].as_str().unwrap()
                })
                .unwrap_or_else(|| panic!("{} not in the index: {index_json}", s["platform"]));
            assert_eq!(listed["digest"], s["digest"]);
            for t in [
                "https://cyclonedx.org/bom",
                "https://slsa.dev/provenance/v1",
            ] {
                assert!(s["attestations"][t]["layer"].is_string(), "{s}");
            }
        }
    }

    // cosign verifies the index and each platform; each platform's SBOM attestation is its
    // own SBOM, about its own digest.
    for platform in ["index", "linux/amd64", "linux/arm64"] {
        check(&mut cosign(&[
            "verify",
            "--key",
            &pub_s,
            "--insecure-ignore-tlog=true",
            &format!("{host}/{repo}@{}", digest_of(platform)),
        ]));
    }
    for platform in ["linux/amd64", "linux/arm64"] {
        let digest = digest_of(platform);
        let pinned = format!("{host}/{repo}@{digest}");
        let sbom = statements(&verify_attestation(&pub_s, "cyclonedx", &pinned).stdout);
        assert_eq!(sbom.len(), 1);
        assert_eq!(
            sbom[0]["subject"][0]["digest"]["sha256"],
            digest.trim_start_matches("sha256:")
        );
        assert!(
            sbom[0]["predicate"] == sboms[platform],
            "the {platform} SBOM attestation is not that image's SBOM"
        );
        let prov = statements(&verify_attestation(&pub_s, "slsaprovenance1", &pinned).stdout);
        assert_eq!(
            prov[0]["predicate"]["buildDefinition"]["externalParameters"]["buildArgs"]
                ["TARGETPLATFORM"],
            platform
        );
    }
    let out = check(loci().args(["verify", "--key", &pub_s, &format!("{host}/{image}")]));
    let said = text(&out);
    for platform in ["linux/amd64", "linux/arm64"] {
        assert!(
            said.contains(&format!(
                "{platform} {}: signature ok; CycloneDX SBOM ok",
                digest_of(platform)
            )),
            "{said}"
        );
    }
    assert!(
        said.contains(&format!("index {}: signature ok", digest_of("index"))),
        "{said}"
    );

    // arm64's SBOM attestation replaced by amd64's (signed by the key): refused, naming arm64.
    let arm64 = format!("{host}/{repo}@{}", digest_of("linux/arm64"));
    attest_replacing(
        &key,
        "cyclonedx",
        &sboms["linux/amd64"],
        &keys.path().join("amd64-sbom.json"),
        &arm64,
    );
    let e = fails(loci().args(["verify", "--key", &pub_s, &format!("{host}/{image}")]));
    assert!(
        e.contains(&format!(
            "image {} (linux/arm64): the CycloneDX SBOM attestation differs",
            digest_of("linux/arm64")
        )) && e.contains("arm64"),
        "{e}"
    );
    // amd64 still verifies by its digest (the index's digest stands for both platforms).
    check(loci().args([
        "verify",
        "--key",
        &pub_s,
        &format!("{host}/{repo}@{}", digest_of("linux/amd64")),
    ]));

    // cosign 3 on the registry with the referrers API: the same three manifests, as referrers.
    let path3 = cosign3_path();
    let oci = oci_registry();
    let oci_host = format!("127.0.0.1:{}", oci.port);
    let started = std::time::Instant::now();
    let (log, signed3) = publish_image(
        image,
        &oci_host,
        &key,
        &keys.path().join("signed-3.json"),
        &path3,
    );
    record(&format!(
        "E2E-SIGN a two-platform manifest list with cosign 3 (referrers API) in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    assert!(log.contains("(cosign 3)"), "{log}");
    let platforms: Vec<(&str, &str)> = signed3
        .iter()
        .map(|s| {
            (
                s["platform"].as_str().unwrap(),
                s["scheme"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        platforms,
        [
            ("index", "referrers"),
            ("linux/amd64", "referrers"),
            ("linux/arm64", "referrers")
        ]
    );
    for s in &signed3 {
        assert_eq!(
            s["digest"],
            digest_of(s["platform"].as_str().unwrap()).as_str()
        );
    }
    drop(oci);
}
