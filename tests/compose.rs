//! compose.yaml (the gate's image set) against LOCI master's `playbooks/vars.yaml`
//! (tests/fixtures/loci-master/playbooks/vars.yaml): the same 30 images, each with LOCI's PROJECT,
//! PROFILES, PIP_PACKAGES, DIST_PACKAGES, PIP_ARGS and KEEP_ALL_WHEELS but for the adaptations
//! listed in [`ADAPTED`] (each one commented in compose.yaml); and the requirements image's
//! PIP_PACKAGES hold every Python package the services install that upper-constraints.txt
//! (2026.1) does not pin. No Docker: both files are read as text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use loci::config::{Config, Env};
use loci::constraints::{line_name, normalize};
use loci::distro::Distro;
use loci::os_release::OsRelease;
use loci::plan::PlanInput;
use loci::steps::build_plan;

/// (image, argument, LOCI's value, compose.yaml's value): where compose.yaml differs, and why
/// (the comments in compose.yaml say the same).
const ADAPTED: &[(&str, &str, &str, &str, &str)] = &[
    (
        "trove",
        "DIST_PACKAGES",
        "mysql-client postgresql-client curl",
        "default-mysql-client postgresql-client curl",
        "mysql-client is a virtual package nothing installable provides on Debian bookworm",
    ),
    (
        "keystone",
        "PROFILES",
        "fluent apache ldap {{ openstack_release }}",
        "fluent apache ldap",
        "no bindep line names the release (stable/2026.1), and loci refuses '/' in profiles",
    ),
];

/// The arguments compared.
const COMPARED: &[&str] = &[
    "PROJECT",
    "PROFILES",
    "PIP_PACKAGES",
    "DIST_PACKAGES",
    "PIP_ARGS",
    "KEEP_ALL_WHEELS",
];

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// LOCI's images: image name (the repository's last part) -> build arguments.
fn loci_images() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = read("tests/fixtures/loci-master/playbooks/vars.yaml");
    // openstack_client_pip_packages, a list joined into PIP_PACKAGES.
    let mut client_packages: Vec<String> = Vec::new();
    let mut in_list = false;
    for line in text.lines() {
        if line.starts_with("openstack_client_pip_packages:") {
            in_list = true;
            continue;
        }
        if in_list {
            match line.trim().strip_prefix("- ") {
                Some(p) => client_packages.push(p.trim().to_string()),
                None => in_list = false,
            }
        }
    }
    assert!(client_packages.len() > 20, "{client_packages:?}");
    let mut images = BTreeMap::new();
    let mut name: Option<String> = None;
    let mut args: BTreeMap<String, String> = BTreeMap::new();
    let mut flush = |name: &mut Option<String>, args: &mut BTreeMap<String, String>| {
        if let Some(n) = name.take() {
            images.insert(n, std::mem::take(args));
        }
    };
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with("_image:") {
            flush(&mut name, &mut args);
            continue;
        }
        let t = line.trim();
        if let Some(repo) = t.strip_prefix("repository: ") {
            let repo = repo.trim_matches('"');
            name = Some(repo.rsplit('/').next().unwrap().to_string());
        } else if let Some(arg) = t.strip_prefix("- \"").and_then(|a| a.strip_suffix('"')) {
            if let Some((k, v)) = arg.split_once('=') {
                let mut v = v.trim_matches('\'').to_string();
                if v.contains("openstack_client_pip_packages") {
                    v = client_packages.join(" ");
                }
                args.insert(k.to_string(), v);
            }
        }
    }
    flush(&mut name, &mut args);
    images
}

/// `${NAME:-default}` as compose resolves it with NAME unset.
fn resolve(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').unwrap() + i;
        let inner = &rest[i + 2..end];
        if let Some((_, default)) = inner.split_once(":-") {
            out.push_str(default);
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out.trim_matches('"').to_string()
}

/// compose.yaml's services -> build arguments (the `x-args` anchor merged in, defaults of
/// the LOCI_GATE_* variables applied).
fn compose_services() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = read("compose.yaml");
    let mut common: BTreeMap<String, String> = BTreeMap::new();
    let mut services: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section = "";
    let mut current: Option<String> = None;
    let mut in_args = false;
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if indent == 0 {
            section = if t.starts_with("x-args") {
                "x-args"
            } else if t == "services:" {
                "services"
            } else {
                ""
            };
            continue;
        }
        match section {
            "x-args" if indent == 2 => {
                let (k, v) = t.split_once(':').unwrap();
                common.insert(k.into(), resolve(v.trim()));
            }
            "services" if indent == 2 => {
                current = Some(t.trim_end_matches(':').to_string());
                in_args = false;
            }
            "services" if indent == 6 => in_args = t == "args:",
            "services" if indent == 8 && in_args => {
                let svc = services.entry(current.clone().unwrap()).or_default();
                if t.starts_with("<<: *args") {
                    svc.extend(common.clone());
                } else {
                    let (k, v) = t.split_once(':').unwrap();
                    svc.insert(k.into(), resolve(v.trim()));
                }
            }
            _ => {}
        }
    }
    services
}

#[test]
fn compose_holds_loci_masters_thirty_images_with_their_arguments() {
    let loci = loci_images();
    let compose = compose_services();
    let loci_services: BTreeSet<&String> = loci
        .keys()
        .filter(|k| *k != "base" && *k != "requirements")
        .collect();
    assert_eq!(loci_services.len(), 30, "{loci_services:?}");
    let ours: BTreeSet<&String> = compose
        .keys()
        .filter(|k| *k != "base" && *k != "requirements")
        .collect();
    assert_eq!(
        ours, loci_services,
        "compose.yaml's services are LOCI's images"
    );
    let mut differences = Vec::new();
    for image in loci_services {
        let theirs = &loci[image];
        let mine = &compose[image];
        for arg in COMPARED {
            let want = theirs.get(*arg).cloned().unwrap_or_default();
            let got = mine.get(*arg).cloned().unwrap_or_default();
            // LOCI's `yes` and loci's `True` are the same boolean (loci's default is True).
            let (want, got) = if *arg == "KEEP_ALL_WHEELS" {
                let b = |v: &str| loci::config::parse_bool(v).unwrap_or(false);
                (b(&want).to_string(), b(&got).to_string())
            } else {
                (want, got)
            };
            if want == got {
                continue;
            }
            let adapted = ADAPTED
                .iter()
                .any(|(i, a, w, g, _)| i == image && a == arg && *w == want && *g == got);
            if !adapted {
                differences.push(format!(
                    "{image} {arg}: LOCI {want:?}, compose.yaml {got:?}"
                ));
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    // Every adaptation is commented in compose.yaml.
    let text = read("compose.yaml");
    for (image, arg, want, _, _) in ADAPTED {
        let first = want.split_whitespace().next().unwrap();
        assert!(
            text.contains(first) && text.contains(image),
            "{image} {arg}: compose.yaml does not say what LOCI has"
        );
    }
}

/// The Python packages a service's build installs besides the project: PIP_PACKAGES and the
/// pydep packages of its profiles (uwsgi is built by every requirements build).
fn python_packages(project: &str, args: &BTreeMap<String, String>) -> BTreeSet<String> {
    let env: Env = [
        ("PROJECT", project),
        (
            "PROFILES",
            args.get("PROFILES").map(String::as_str).unwrap_or(""),
        ),
        ("WHEELS", "/w.tar"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = Config::from_env(&env).unwrap();
    let os = OsRelease::from_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/os-release/debian-bookworm"),
    )
    .unwrap();
    let distro = Distro::detect(&os, None, None).unwrap();
    let plan = build_plan(
        &PlanInput::new(&config, &distro)
            .bindep("bindep.txt", &read("bindep.txt"))
            .pydep("pydep.txt", &read("pydep.txt")),
    )
    .unwrap();
    let mut out: BTreeSet<String> = plan
        .step("pydep")
        .map(|s| s.packages.iter().map(|p| normalize(p)).collect())
        .unwrap_or_default();
    out.extend(
        args.get("PIP_PACKAGES")
            .map(|v| {
                v.split_whitespace()
                    .filter_map(line_name)
                    .map(normalize)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    );
    out.remove("uwsgi");
    out
}

#[test]
fn the_requirements_image_builds_what_the_services_need_beyond_the_constraints() {
    let upper = read("tests/fixtures/requirements-2026.1/upper-constraints.txt");
    let pinned: BTreeSet<String> = upper.lines().filter_map(line_name).map(normalize).collect();
    let compose = compose_services();
    let built: BTreeSet<String> = compose["requirements"]["PIP_PACKAGES"]
        .split_whitespace()
        .filter_map(line_name)
        .map(normalize)
        .collect();
    let mut missing = Vec::new();
    let mut needed = BTreeSet::new();
    for (name, args) in &compose {
        let Some(project) = args.get("PROJECT") else {
            continue;
        };
        if name == "requirements" {
            continue;
        }
        for p in python_packages(project, args) {
            if pinned.contains(&p) {
                continue;
            }
            needed.insert(p.clone());
            if !built.contains(&p) {
                missing.push(format!("{name}: {p}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not constraints, not in the requirements image's PIP_PACKAGES: {}",
        missing.join(", ")
    );
    // What that is today (a change to the services shows here).
    assert_eq!(
        needed.into_iter().collect::<Vec<_>>(),
        [
            "fluent-logger",
            "networking-baremetal",
            "neutron-vpnaas",
            "tap-as-a-service"
        ]
    );
    // And skyline's console, for LOCI_GATE_SKYLINE_CONSOLE_REPO=pypi.
    assert!(built.contains("skyline-console"), "{built:?}");
}
