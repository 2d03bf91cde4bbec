//! Cargo.toml's `rust-version` is the truth about which Rust builds loci: the oldest toolchain
//! that the locked dependencies accept (each crate's own `rust-version`), and the README's
//! set-up says the same.

use std::process::Command;

/// `1.88` or `1.85.0` as comparable numbers (missing parts are 0).
fn version(v: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = v
        .split('.')
        .map(|p| {
            p.parse()
                .unwrap_or_else(|_| panic!("rust-version {v:?} is not N.N(.N)"))
        })
        .collect();
    parts.resize(3, 0);
    parts
}

/// The resolved dependency graph of this package for the host platform, from
/// `cargo metadata --locked --offline` (the sources the build just used).
fn metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--offline",
            "--filter-platform",
            "x86_64-unknown-linux-gnu",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo} metadata: {e}"));
    assert!(
        out.status.success(),
        "{cargo} metadata failed (are the locked crates downloaded? `cargo fetch`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn rust_version_is_the_oldest_that_builds_the_locked_dependencies() {
    let meta = metadata();
    let nodes: std::collections::BTreeSet<&str> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    let root = meta["resolve"]["root"].as_str().unwrap();
    let mut ours = None;
    let mut needed: Option<(Vec<u64>, String)> = None;
    let mut counted = 0;
    for p in meta["packages"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        if !nodes.contains(id) {
            continue;
        }
        let rv = p["rust_version"].as_str();
        if id == root {
            ours = Some(rv.expect("Cargo.toml sets rust-version").to_string());
            continue;
        }
        counted += 1;
        if let Some(rv) = rv {
            let label = format!("{} {} (rust-version {rv})", p["name"], p["version"]);
            if needed.as_ref().is_none_or(|(v, _)| version(rv) > *v) {
                needed = Some((version(rv), label));
            }
        }
    }
    assert!(counted > 100, "only {counted} dependencies resolved");
    let ours = ours.expect("the root package is in the resolve");
    let (needed, by) = needed.expect("some dependency states a rust-version");
    assert_eq!(
        version(&ours),
        needed,
        "Cargo.toml says rust-version = \"{ours}\", but the newest requirement of the locked \
         dependencies is {by}: set rust-version to it (and the README's set-up line)"
    );

    // The README's set-up names that version, and says Debian bookworm's cargo is too old.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let setup = readme
        .split("## Setting up a machine")
        .nth(1)
        .expect("README has a set-up section");
    assert!(
        setup.contains(&format!("Rust {ours} or newer")),
        "the README's set-up must say `Rust {ours} or newer`"
    );
    assert!(
        !setup.contains("Debian's cargo)"),
        "the README's set-up must not offer Debian bookworm's cargo"
    );
}

#[test]
fn the_dockerfile_compiles_loci_with_a_recent_enough_rust() {
    // The loci-compile stage's default image is `rust:1-bookworm` (the newest 1.x): no pin
    // below rust-version may creep in.
    let dockerfile =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    let image = dockerfile
        .lines()
        .find_map(|l| l.trim().strip_prefix("ARG RUST_IMAGE="))
        .expect("the Dockerfile has ARG RUST_IMAGE=");
    let tag = image.split(':').nth(1).unwrap_or("latest");
    let tag_version = tag.split('-').next().unwrap();
    if tag_version.contains('.') {
        let meta = metadata();
        let root = meta["resolve"]["root"].as_str().unwrap().to_string();
        let ours = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == root.as_str())
            .and_then(|p| p["rust_version"].as_str())
            .unwrap()
            .to_string();
        assert!(
            version(tag_version) >= version(&ours),
            "RUST_IMAGE={image} is older than rust-version {ours}"
        );
    } else {
        assert!(
            ["1", "latest", "slim", "bookworm"].contains(&tag_version),
            "RUST_IMAGE={image}: an unexpected tag"
        );
    }
}
