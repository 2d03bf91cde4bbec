//! The Dockerfile's build arguments against loci's: every `ARG NAME=DEFAULT` of the `common`
//! stage means, passed to loci as it is, what loci does without it (so `docker build` and
//! `loci plan` agree), and LOCI master's arguments are declared there with LOCI's defaults.

use std::collections::BTreeMap;
use std::path::Path;

use loci::config::{Config, Env};

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// `ARG NAME=VALUE` (and `ARG NAME`) lines of the stage starting at `from_line`.
fn stage_args(dockerfile: &str, from_line: &str) -> BTreeMap<String, Option<String>> {
    let start = dockerfile
        .find(from_line)
        .unwrap_or_else(|| panic!("no `{from_line}`"));
    let rest = &dockerfile[start + from_line.len()..];
    let end = rest.find("\nFROM ").unwrap_or(rest.len());
    rest[..end]
        .lines()
        .filter_map(|l| l.strip_prefix("ARG "))
        .map(|a| match a.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.trim_matches('"').to_string())),
            None => (a.trim().to_string(), None),
        })
        .collect()
}

fn config(pairs: &[(&str, &str)]) -> Config {
    let env: Env = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_env(&env).unwrap_or_else(|e| panic!("{pairs:?}: {e}"))
}

#[test]
fn the_common_stage_defaults_are_loci_defaults() {
    let args = stage_args(&read("Dockerfile"), "FROM ${FROM} AS common");
    // LOCI master's arguments, with LOCI master's defaults.
    for (name, want) in [
        ("SOURCES_DIR", "/tmp"),
        ("PIP_VERSION_CONSTRAINT", ""),
        ("SETUPTOOL_CONSTRAINT", "<81"),
        ("WHEEL_CONSTRAINT", ""),
        (
            "SKYLINE_CONSOLE_REPO",
            "https://opendev.org/openstack/skyline-console",
        ),
        ("SKYLINE_CONSOLE_REF", "master"),
        ("KEEP_ALL_WHEELS", "False"),
        ("PLUGIN", "no"),
        ("REGISTRY_INSECURE", "False"),
        ("WHEELS_PATH", "/wheels"),
    ] {
        assert_eq!(
            args.get(name),
            Some(&Some(want.to_string())),
            "ARG {name} in the common stage"
        );
    }
    // Each default, given to loci, changes nothing (but where loci says the value came from).
    let values = |mut c: Config| {
        for r in &mut c.resolution.args {
            r.source = loci::config::Source::Default;
        }
        c
    };
    let base = values(config(&[("PROJECT", "keystone")]));
    let mut checked = 0;
    for (name, value) in &args {
        let Some(value) = value else { continue };
        // WHEELS names LOCI's default image, which BuildKit mounts; loci alone has no image.
        // LOCI_CACHE_DIR is where the Dockerfile mounts the caches: loci has no default.
        if matches!(
            name.as_str(),
            "PROJECT" | "WHEELS" | "DEBIAN_FRONTEND" | "LOCI_CACHE_DIR"
        ) {
            continue;
        }
        let value = value
            .replace("${PROJECT}", "keystone")
            .replace("$PIP_ARGS", "");
        let with = values(config(&[
            ("PROJECT", "keystone"),
            (name.as_str(), value.as_str()),
        ]));
        assert_eq!(with, base, "ARG {name}={value} is not loci's default");
        checked += 1;
    }
    assert!(checked > 30, "{checked} defaults checked");
}

#[test]
fn the_base_images_take_apt_mirror_host() {
    for (file, from) in [
        ("Dockerfile.base", "FROM ${FROM}\n"),
        ("dockerfiles/debian/Dockerfile", "FROM ${FROM}\n"),
        ("dockerfiles/ubuntu/Dockerfile", "FROM ${FROM}\n"),
    ] {
        let args = stage_args(&read(file), from);
        assert_eq!(
            args.get("APT_MIRROR_HOST"),
            Some(&Some(String::new())),
            "{file}: LOCI master's APT_MIRROR_HOST, empty by default"
        );
    }
}

/// The package caches are BuildKit cache mounts of every RUN that installs something: the
/// system one (apt/dnf) and the Python one (pip, uv) where Python packages are installed,
/// keyed by FROM and TARGETPLATFORM, at LOCI_CACHE_DIR, which loci reads.
#[test]
fn package_caches_are_cache_mounts_keyed_by_from_and_platform() {
    let dockerfile = read("Dockerfile");
    let common = stage_args(&dockerfile, "FROM ${FROM} AS common");
    assert_eq!(common.get("PACKAGE_CACHE"), Some(&Some("True".to_string())));
    assert_eq!(
        common.get("LOCI_CACHE_DIR"),
        Some(&Some("/mnt/cache".to_string()))
    );
    assert_eq!(common.get("TARGETPLATFORM"), Some(&None));
    let system = "--mount=type=cache,id=loci-system-${FROM}-${TARGETPLATFORM},target=${LOCI_CACHE_DIR}/system,sharing=private";
    let python = "--mount=type=cache,id=loci-python-${FROM}-${TARGETPLATFORM},target=${LOCI_CACHE_DIR}/python,sharing=shared";
    for (stage, want_python) in [
        ("requirements", true),
        ("builder", true),
        ("project-one-stage", true),
        ("runtime", false),
    ] {
        let from = format!("FROM common AS {stage}\n");
        let start = dockerfile.find(&from).unwrap_or_else(|| panic!("{from}"));
        let rest = &dockerfile[start + from.len()..];
        let body = &rest[..rest.find("\nFROM ").unwrap_or(rest.len())];
        assert!(body.contains(system), "{stage}: no system cache mount");
        assert_eq!(
            body.contains(python),
            want_python,
            "{stage}: python cache mount"
        );
        assert!(
            body.contains("exec /mnt/loci build --stage"),
            "{stage}: loci runs in that RUN"
        );
    }
    // Given to loci, the cache dir of a machine without the mount changes nothing (loci never
    // creates it: it would land in a layer).
    let missing = "/nonexistent/loci-cache";
    assert_eq!(
        config(&[("PROJECT", "keystone"), ("LOCI_CACHE_DIR", missing)]).cache_dir,
        None
    );
}

/// A COPY source that expands to nothing is the whole build context (BuildKit 0.13): every
/// variable among COPY's sources has a default, so that an unset EXTRA_BINDEP does not copy
/// data/ (the project's source) into the loci-files stage.
#[test]
fn copy_sources_never_expand_to_nothing() {
    let dockerfile = read("Dockerfile");
    let mut copies = 0;
    for line in dockerfile.lines().filter(|l| l.starts_with("COPY ")) {
        copies += 1;
        let words: Vec<&str> = line.split_whitespace().collect();
        // The sources: every word but COPY, its --flags and the destination.
        for w in &words[1..words.len() - 1] {
            if w.starts_with("--") {
                continue;
            }
            let mut rest = *w;
            while let Some(i) = rest.find("${") {
                let end = rest[i..].find('}').map(|e| i + e).unwrap_or(rest.len());
                let expansion = &rest[i + 2..end];
                assert!(
                    expansion.contains(":-"),
                    "`{line}`: ${{{expansion}}} has no default"
                );
                rest = &rest[end..];
            }
        }
    }
    assert!(copies >= 3, "{copies} COPY lines");
}
