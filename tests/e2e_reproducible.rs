//! End to end, supply chain: pinned inputs, provenance labels and reproducible images.
//!
//! keystone is built from a base image and a requirements image that BuildKit pulls by digest
//! from a registry on 127.0.0.1, with SOURCE_DATE_EPOCH. The image's labels name the base and
//! wheels images with their digests and loci's version; /etc/image_info/inputs.env records the
//! build arguments with the commit that was built. A second build, given exactly those recorded
//! arguments and --no-cache, must give the same files, byte for byte and with the same times
//! and modes (compared layer by layer from `docker save`), and, on this engine (Docker 26's
//! BuildKit with SOURCE_DATE_EPOCH), the same image: the same config digest (the image ID of
//! Docker's classic store) and, on the containerd image store, the same image manifest. (The
//! containerd store's image ID is the digest of an index that also holds BuildKit's provenance
//! attestation, which records the build's own id and times: it differs from build to build.)
//!
//! Needs Docker 26+ and docker-registry: run it with `sudo tests/run.sh`.

#[path = "support/e2e.rs"]
mod e2e;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::Stdio;

use e2e::*;
use sha2::{Digest, Sha256};

const EPOCH: &str = "1700000000";

/// One entry of a layer: what a reproducible build must give again.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    kind: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    size: u64,
    sha256: String,
    link: String,
}

/// What `docker save` says of an image: its config digest, the digest of its image manifest
/// (an OCI layout's, None from a store that writes none), and every layer as path -> entry.
struct Saved {
    config: String,
    manifest: Option<String>,
    layers: Vec<BTreeMap<String, Entry>>,
}

/// `docker save` of `image`: layers are plain tar (classic store) or gzip (containerd store).
fn saved(image: &str) -> Saved {
    let mut child = docker()
        .args(["save", image])
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker save");
    let mut archive = tar::Archive::new(child.stdout.take().unwrap());
    let mut blobs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut manifest = None;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if path == "manifest.json" {
            manifest = Some(serde_json::from_slice::<serde_json::Value>(&data).unwrap());
        } else if !data.is_empty() {
            blobs.insert(path, data);
        }
    }
    assert!(
        child.wait().unwrap().success(),
        "docker save {image} failed"
    );
    let manifest = manifest.expect("docker save wrote no manifest.json");
    let config = manifest[0]["Config"]
        .as_str()
        .expect("manifest.json names no Config")
        .trim_start_matches("blobs/sha256/")
        .trim_end_matches(".json")
        .to_string();
    // An OCI layout (Docker 25+): index.json -> (an index ->) the image manifest whose config
    // is this one.
    let image_manifest = blobs.get("index.json").and_then(|index| {
        let mut todo: Vec<String> = serde_json::from_slice::<serde_json::Value>(index).ok()?
            ["manifests"]
            .as_array()?
            .iter()
            .filter_map(|m| m["digest"].as_str().map(str::to_string))
            .collect();
        while let Some(d) = todo.pop() {
            let blob = blobs.get(&format!("blobs/sha256/{}", d.trim_start_matches("sha256:")))?;
            let v: serde_json::Value = serde_json::from_slice(blob).ok()?;
            if v["config"]["digest"].as_str() == Some(&format!("sha256:{config}")) {
                return Some(d);
            }
            if let Some(ms) = v["manifests"].as_array() {
                todo.extend(
                    ms.iter()
                        .filter_map(|m| m["digest"].as_str().map(str::to_string)),
                );
            }
        }
        None
    });
    let layers = manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let blob = &blobs[l.as_str().unwrap()];
            let blob: Vec<u8> = if blob.starts_with(&[0x1f, 0x8b]) {
                let mut plain = Vec::new();
                flate2::read::MultiGzDecoder::new(&blob[..])
                    .read_to_end(&mut plain)
                    .unwrap();
                plain
            } else {
                blob.clone()
            };
            let mut out = BTreeMap::new();
            let mut layer = tar::Archive::new(&blob[..]);
            for e in layer.entries().unwrap() {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let path = e.path().unwrap().display().to_string();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                out.insert(
                    path,
                    Entry {
                        kind: h.entry_type().as_byte(),
                        mode: h.mode().unwrap(),
                        uid: h.uid().unwrap(),
                        gid: h.gid().unwrap(),
                        mtime: h.mtime().unwrap(),
                        size: data.len() as u64,
                        sha256: hex::encode(Sha256::digest(&data)),
                        link: e
                            .link_name()
                            .unwrap()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default(),
                    },
                );
            }
            out
        })
        .collect();
    Saved {
        config: format!("sha256:{config}"),
        manifest: image_manifest,
        layers,
    }
}

/// The differences between the layers of two saved images, at most `max` lines.
fn layer_differences(a: &str, b: &str, sa: &Saved, sb: &Saved, max: usize) -> Vec<String> {
    let (la, lb) = (&sa.layers, &sb.layers);
    let mut out = Vec::new();
    if la.len() != lb.len() {
        out.push(format!("{a} has {} layers, {b} {}", la.len(), lb.len()));
    }
    for (i, (x, y)) in la.iter().zip(lb.iter()).enumerate() {
        for path in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
            if x.get(path) != y.get(path) {
                out.push(format!(
                    "layer {i} {path}: {:?} / {:?}",
                    x.get(path),
                    y.get(path)
                ));
            }
        }
    }
    out.truncate(max);
    out
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn keystone_from_pinned_inputs_is_reproducible_and_names_its_inputs() {
    require_docker();
    let _guard = lock();
    let base = base_image();
    let requirements = requirements_image();
    let registry = registry();
    let host = format!("127.0.0.1:{}", registry.port);
    let base_ref = format!("{host}/loci-test/base:debian");
    let wheels_ref = format!("{host}/loci-test/requirements:2026.1");
    check(docker().args(["tag", &base, &base_ref]));
    check(docker().args(["tag", &requirements, &wheels_ref]));
    let base_pinned = pushed_digest(&base_ref, &host);
    let wheels_pinned = pushed_digest(&wheels_ref, &host);
    let base_digest = base_pinned.split_once('@').unwrap().1.to_string();
    let wheels_digest = wheels_pinned.split_once('@').unwrap().1.to_string();

    let repos = tempfile::tempdir().unwrap();
    let (repo, tag) = keystone_repo(repos.path());
    let commit = rev_parse(&repo, &tag);
    let daemon = git_daemon(repos.path());
    let project_repo = format!("git://127.0.0.1:{}/keystone", daemon.port);

    // A digest the registry does not have: the engine refuses it before anything runs.
    let ctx = Context::new();
    let wrong = format!("{host}/loci-test/base@sha256:{}", "0".repeat(64));
    let mut args = ctx.args(
        &wrong,
        &[("PROJECT", "keystone"), ("WHEELS", &wheels_pinned)],
    );
    args.push("--no-cache".into());
    let log = docker_build_fails("keystone-wrong-digest", &args, ctx.path());
    assert!(
        log.contains(&"0".repeat(64)) && !log.contains("==> [1/"),
        "the unknown base digest was not refused before loci ran:\n{log}"
    );

    // a. The first build: pinned images, the project at its release commit. (A build at a tag
    // records the commit it resolved to: e2e_keystone checks that.)
    let first = "loci-test/keystone-repro:a";
    let mut args = ctx.args(
        &base_pinned,
        &[
            ("PROJECT", "keystone"),
            ("PROJECT_REPO", &project_repo),
            ("PROJECT_REF", &commit),
            ("PROJECT_RELEASE", "2026.1"),
            ("WHEELS", &wheels_pinned),
            ("KEEP_ALL_WHEELS", "True"),
            ("SOURCE_DATE_EPOCH", EPOCH),
        ],
    );
    args.extend(["--no-cache".into(), "-t".into(), first.to_string()]);
    docker_build("keystone-repro-a", &args, ctx.path());

    // b. Provenance labels.
    let labels: BTreeMap<String, String> = serde_json::from_str(&stdout(docker().args([
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        first,
    ])))
    .unwrap();
    let expect = [
        ("org.opencontainers.image.base.name", base_pinned.as_str()),
        ("org.opencontainers.image.base.digest", base_digest.as_str()),
        ("org.openstack.loci.wheels", wheels_pinned.as_str()),
        ("org.openstack.loci.wheels.digest", wheels_digest.as_str()),
        ("org.openstack.loci.version", env!("CARGO_PKG_VERSION")),
        ("org.openstack.loci.release", "2026.1"),
        ("org.opencontainers.image.title", "keystone"),
        ("org.opencontainers.image.revision", commit.as_str()),
        ("org.opencontainers.image.version", "2026.1"),
        ("org.opencontainers.image.licenses", "Apache-2.0"),
        (
            "org.opencontainers.image.description",
            "OpenStack keystone 2026.1, built from source by loci",
        ),
        // The keys of the release before, kept for one release.
        ("loci.wheels", wheels_pinned.as_str()),
        ("loci.wheels.digest", wheels_digest.as_str()),
        ("loci.version", env!("CARGO_PKG_VERSION")),
    ];
    for (k, v) in expect {
        assert_eq!(
            labels.get(k).map(String::as_str),
            Some(v),
            "label {k}: {labels:?}"
        );
    }

    // c. The recorded inputs: every one pinned (images by digest, the project by commit).
    let inputs = sh_in(first, "cat /etc/image_info/inputs.env");
    let recorded: Vec<(String, String)> = inputs
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let get = |k: &str| {
        recorded
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("inputs.env has no {k}:\n{inputs}"))
    };
    assert_eq!(get("FROM"), base_pinned);
    assert_eq!(get("WHEELS"), wheels_pinned);
    assert_eq!(get("PROJECT_REF"), commit);
    assert_eq!(get("PROJECT_REPO"), project_repo);
    assert_eq!(get("SOURCE_DATE_EPOCH"), EPOCH);
    assert_eq!(get("LOCI_VERSION"), env!("CARGO_PKG_VERSION"));
    // No durations in a reproducible image.
    let info = sh_in(first, "cat /etc/image_info/image_info.json");
    assert!(!info.contains("step_seconds"), "{info}");

    // d. The second build asks for exactly the recorded inputs.
    let second = "loci-test/keystone-repro:b";
    let mut args = vec![
        "-f".to_string(),
        root().join("Dockerfile").display().to_string(),
        "--build-arg".into(),
        format!("LOCI_IMAGE={}", loci_image()),
    ];
    for (k, v) in &recorded {
        args.extend(["--build-arg".into(), format!("{k}={v}")]);
    }
    args.extend(["--no-cache".into(), "-t".into(), second.to_string()]);
    docker_build("keystone-repro-b", &args, ctx.path());
    drop(daemon);

    // e. The same files, times and modes, layer by layer; and the same image.
    let (sa, sb) = (saved(first), saved(second));
    let diff = layer_differences(first, second, &sa, &sb, 40);
    assert!(
        diff.is_empty(),
        "two builds from the same inputs differ:\n{}",
        diff.join("\n")
    );
    assert_eq!(
        sa.config, sb.config,
        "the same layers, yet different image configs (image IDs)"
    );
    assert_eq!(
        sa.manifest, sb.manifest,
        "the same layers and config, yet different image manifests"
    );
    record(&format!(
        "E2E-REPRODUCIBLE keystone config {} manifest {} (engine image IDs {} and {})",
        sa.config,
        sa.manifest.as_deref().unwrap_or("(none: classic store)"),
        image_id(first),
        image_id(second)
    ));
}
