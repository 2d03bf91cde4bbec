//! The table of build arguments (`src/config/args.rs`) against everything that lists them:
//! the README's table (generated from it: `UPDATE_README=1 cargo test --test build_args`
//! writes it), the Dockerfile's `ARG`s and their defaults, /etc/image_info/inputs.env, and
//! `loci config`.

#[path = "support/cmd.rs"]
mod cmd;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use loci::config::args::{self, DefaultIs, Inputs, Kind, Place, ARGS};
use loci::config::{Config, Env};

const BEGIN: &str = "<!-- build-arguments: generated from src/config/args.rs by `UPDATE_README=1 cargo test --test build_args`; do not edit -->\n";
const END: &str = "<!-- end of build-arguments -->\n";

/// The Dockerfile's own ARGs: computed from others (the labels' digests, the wheels stage's
/// image), BuildKit's platform, and apt's frontend.
const DOCKERFILE_INTERNAL: &[&str] = &[
    "FROM_AT",
    "FROM_DIGEST",
    "WHEELS_AT",
    "WHEELS_DIGEST",
    "WHEELS_NO_PATH",
    "WHEELS_IMAGE",
    "PROJECT_OR_NONE",
    "NOT_REQUIREMENTS",
    "SERVICE_STAGE",
    "PROJECT_STAGE",
    "TARGETPLATFORM",
    "TARGETARCH",
    "DEBIAN_FRONTEND",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_readme_table_is_the_table_of_build_arguments() {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme
        .find(BEGIN)
        .expect("README.md has the build-arguments marker")
        + BEGIN.len();
    let end = start
        + readme[start..]
            .find(END)
            .expect("README.md has the end marker");
    let want = args::markdown();
    if readme[start..end] != want {
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{want}{}", &readme[..start], &readme[end..]);
            std::fs::write(&path, updated).unwrap();
            return;
        }
        panic!(
            "README.md's table of build arguments is not the one src/config/args.rs makes; \
             regenerate it with `UPDATE_README=1 cargo test --test build_args`.\nwanted:\n{want}"
        );
    }
    // Every argument but the environment's has its row.
    for a in ARGS.iter().filter(|a| a.place != Place::Environment) {
        assert!(want.contains(&format!("| `{}` ", a.name)), "{}", a.name);
    }
}

/// The Dockerfile's ARGs, each with its default as written (quotes removed), `None` without
/// one; an ARG declared in several stages must have the same default in each.
fn dockerfile_args() -> BTreeMap<String, Vec<Option<String>>> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut out: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("ARG ") else {
            continue;
        };
        let (name, default) = match rest.split_once('=') {
            Some((n, d)) => (n, Some(d.trim().trim_matches('"').to_string())),
            None => (rest.trim(), None),
        };
        out.entry(name.to_string()).or_default().push(default);
    }
    out
}

#[test]
fn every_argument_of_the_dockerfile_is_in_the_table_and_back() {
    let declared = dockerfile_args();
    assert!(declared.len() > 50, "{declared:?}");
    let mut wrong = Vec::new();
    for name in declared.keys() {
        if args::find(name).is_none() && !DOCKERFILE_INTERNAL.contains(&name.as_str()) {
            wrong.push(format!(
                "the Dockerfile declares ARG {name}, which the table does not have"
            ));
        }
    }
    for a in ARGS {
        let is_declared = declared.contains_key(a.name);
        match a.place {
            Place::BuildArg | Place::Dockerfile if !is_declared => wrong.push(format!(
                "{} is a build argument in the table but no ARG of the Dockerfile: `--build-arg {}=...` would not reach the build",
                a.name, a.name
            )),
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_dockerfile_defaults_agree_with_the_table() {
    let declared = dockerfile_args();
    let mut wrong = Vec::new();
    for a in ARGS {
        let Some(defaults) = declared.get(a.name) else {
            continue;
        };
        for d in defaults {
            let d = d.as_deref();
            // `${...}`: computed by the Dockerfile (PROJECT_REPO, PIP_WHEEL_ARGS).
            if d.is_some_and(|d| d.contains('$')) {
                continue;
            }
            let empty_is_a_value = matches!(a.kind, Kind::Words | Kind::TextOrEmpty);
            match (a.default, d) {
                (DefaultIs::Value(v), Some(d)) if (empty_is_a_value || !d.is_empty()) && d != v => {
                    wrong.push(format!("{}: the Dockerfile's default is {d:?}, the table's {v:?}", a.name))
                }
                // An empty Dockerfile default would override a default that is no empty list.
                (DefaultIs::Value(v) | DefaultIs::Derived(v), Some(""))
                    if empty_is_a_value && !v.is_empty() =>
                {
                    wrong.push(format!(
                        "{}: the Dockerfile sets it empty, which means none, not the table's default {v:?}",
                        a.name
                    ))
                }
                (DefaultIs::Unset(text), Some(d)) if !d.is_empty() && !text.contains(&format!("`{d}`")) => {
                    wrong.push(format!(
                        "{}: the Dockerfile's default is {d:?}; the table's text {text:?} should name it",
                        a.name
                    ))
                }
                (DefaultIs::Required, Some(d)) if !d.is_empty() && a.name != "PROJECT" => {
                    wrong.push(format!("{}: required, but the Dockerfile gives {d:?}", a.name))
                }
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_table_holds_the_http_clients_defaults() {
    let secs = |a: &args::Arg| a.default_value().unwrap().parse::<u64>().unwrap();
    assert_eq!(
        secs(&args::LOCI_HTTP_CONNECT_TIMEOUT),
        loci::config::CONNECT_TIMEOUT.as_secs()
    );
    assert_eq!(
        secs(&args::LOCI_HTTP_READ_TIMEOUT),
        loci::config::READ_TIMEOUT.as_secs()
    );
    // Names are unique, aliases too.
    let mut names: Vec<&str> = ARGS
        .iter()
        .flat_map(|a| std::iter::once(a.name).chain(a.aliases.iter().copied()))
        .collect();
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n, "a name twice in the table");
}

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn inputs_env_lists_the_tables_recorded_arguments_in_its_order() {
    for (pairs, with_upper, with_epoch) in [
        (
            vec![
                ("PROJECT", "keystone"),
                ("WHEELS", "loci/requirements:2026.1"),
            ],
            false,
            false,
        ),
        (
            vec![
                ("PROJECT", "nova"),
                ("WHEELS", ""),
                ("UPPER_CONSTRAINTS", "https://c.example/upper"),
                ("SOURCE_DATE_EPOCH", "1700000000"),
                ("PIP_CONSTRAINT", "<24"),
                ("PLUGIN", "True"),
            ],
            true,
            true,
        ),
    ] {
        let config = Config::from_env(&env(&pairs)).unwrap();
        let text = loci::steps::image_info::inputs(&config, None, "amd64");
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split_once('=').unwrap().0)
            .collect();
        let want: Vec<&str> = ARGS
            .iter()
            .filter(|a| match a.inputs {
                Inputs::No => false,
                Inputs::Always => true,
                Inputs::WhenSet => match a.name {
                    "UPPER_CONSTRAINTS" => with_upper,
                    "SOURCE_DATE_EPOCH" => with_epoch,
                    other => panic!("{other}: when is it set?"),
                },
            })
            .map(|a| a.name)
            .collect();
        assert_eq!(keys, want, "{text}");
        if with_epoch {
            assert!(text.contains("\nPIP_VERSION_CONSTRAINT=<24\n"), "{text}");
            assert!(text.contains("\nPLUGIN=yes\n"), "{text}");
            assert!(text.contains("\nINSTALLER=pip\n"), "{text}");
            assert!(
                text.contains("\nUPPER_CONSTRAINTS=https://c.example/upper\n"),
                "{text}"
            );
        }
    }
}

fn loci_config(pairs: &[(&str, &str)], json: bool) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loci"));
    cmd.arg("config").env_clear().env("PATH", "/usr/bin:/bin");
    if json {
        cmd.arg("--json");
    }
    for (k, v) in pairs {
        cmd.env(k, v);
    }
    let out = cmd::ok(&mut cmd);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn loci_config_prints_every_argument_with_its_source() {
    let pairs = [
        ("PROJECT", "nova"),
        ("PIP_CONSTRAINT", "<24"),
        ("PROFILES", "ceph  qemu"),
        ("UPPER_CONSTRAINTS", "https://c.example/upper"),
        ("WHEELS", "loci/requirements:2026.1"),
    ];
    let text = loci_config(&pairs, false);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
            .to_string()
    };
    for a in ARGS {
        line(a.name);
    }
    assert!(line("PROJECT").ends_with("# given (PROJECT)"));
    assert!(line("PIP_VERSION_CONSTRAINT").starts_with("PIP_VERSION_CONSTRAINT=<24 "));
    assert!(line("PIP_VERSION_CONSTRAINT").ends_with("# given (PIP_CONSTRAINT)"));
    assert!(line("PROFILES").starts_with("PROFILES=ceph qemu "));
    assert!(line("UID").starts_with("UID=42424 ") && line("UID").ends_with("# default"));
    assert!(line("PROJECT_REPO").starts_with("PROJECT_REPO=https://opendev.org/openstack/nova "));
    assert!(line("PROJECT_REPO").contains("# derived: https://opendev.org/openstack/$PROJECT"));
    assert!(line("UPPER_CONSTRAINTS").ends_with("# given (UPPER_CONSTRAINTS), not in effect"));
    assert!(line("SOURCE_DATE_EPOCH").ends_with("# unset"));
    let doc: serde_json::Value = serde_json::from_str(&loci_config(&pairs, true)).unwrap();
    let names: Vec<&str> = doc["resolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let table: Vec<&str> = ARGS.iter().map(|a| a.name).collect();
    assert_eq!(names, table);
    let pvc = doc["resolved"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "PIP_VERSION_CONSTRAINT")
        .unwrap();
    assert_eq!(
        pvc,
        &serde_json::json!({"name": "PIP_VERSION_CONSTRAINT", "value": "<24", "source": "given", "name_given": "PIP_CONSTRAINT"})
    );
    assert_eq!(doc["arguments"].as_array().unwrap().len(), ARGS.len());
}

#[test]
fn a_bad_value_fails_loci_config_like_a_build() {
    let out = Command::new(env!("CARGO_BIN_EXE_loci"))
        .arg("config")
        .env_clear()
        .env("UID", "root")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("UID=root is not a valid numeric id"), "{err}");
}
