//! The SLSA v1 provenance of a loci image, made from what the image records about its build
//! (its labels and /etc/image_info/inputs.env), and the checks `loci verify` runs on one.
//!
//! ```text
//! buildDefinition.buildType             BUILD_TYPE
//! buildDefinition.externalParameters    buildArgs: inputs.env (PROJECT_REF the commit built)
//! buildDefinition.resolvedDependencies  base (FROM, its digest), wheels (WHEELS, its digest),
//!                                       source (git+PROJECT_REPO at the commit), loci (its
//!                                       version and commit)
//! runDetails.builder                    id and versions (the engine), as the signer says
//! runDetails.metadata.finishedOn        org.opencontainers.image.created, when set
//! ```

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::image::Facts;

/// The build type of loci's provenance: a `docker build` of loci's Dockerfile (README.md,
/// "Signed images").
pub const BUILD_TYPE: &str = "https://opendev.org/openstack/loci/buildtypes/docker-build/v1";
/// The in-toto predicate type of SLSA v1 provenance (cosign's `slsaprovenance1`).
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// The builder id when the signer names none.
pub const DEFAULT_BUILDER: &str = "https://opendev.org/openstack/loci/builders/docker";

/// loci's own labels, and the names they had before (read for one release).
pub const LABEL_PREFIX: &str = "org.openstack.loci.";
const OLD_LABEL_PREFIX: &str = "loci.";

/// The value of loci's label `name` (`version`, `wheels`, `wheels.digest`, `revision`), under
/// its reverse-DNS key or the old one.
pub fn loci_label<'a>(labels: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    labels
        .get(&format!("{LABEL_PREFIX}{name}"))
        .or_else(|| labels.get(&format!("{OLD_LABEL_PREFIX}{name}")))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn oci_label<'a>(labels: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    labels
        .get(&format!("org.opencontainers.image.{name}"))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Who built the image, as the signer states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builder {
    pub id: String,
    /// Component -> version (e.g. `docker` -> `26.1.5`).
    pub versions: BTreeMap<String, String>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            id: DEFAULT_BUILDER.into(),
            versions: BTreeMap::new(),
        }
    }
}

/// Whether `s` is a full git commit id.
pub fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `sha256:HEX` -> `{"sha256": "HEX"}`.
fn digest_set(digest: Option<&str>) -> Option<Value> {
    let (alg, hex) = digest?.split_once(':')?;
    Some(json!({ alg: hex }))
}

fn input<'a>(facts: &'a Facts, name: &str) -> Option<&'a str> {
    facts
        .inputs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The dependencies the build resolved: base and wheels images (with their digests when the
/// build was given them by digest), the project's source at its commit, and loci.
fn dependencies(facts: &Facts) -> Vec<Value> {
    let labels = &facts.labels;
    let mut deps = Vec::new();
    let image = |name: &str, uri: Option<&str>, digest: Option<&str>| {
        let mut d = json!({ "name": name });
        if let Some(uri) = uri {
            d["uri"] = json!(format!("docker://{uri}"));
        }
        if let Some(set) = digest_set(digest) {
            d["digest"] = set;
        }
        d
    };
    if let Some(from) = oci_label(labels, "base.name").or_else(|| input(facts, "FROM")) {
        deps.push(image("base", Some(from), oci_label(labels, "base.digest")));
    }
    if let Some(wheels) = loci_label(labels, "wheels").or_else(|| input(facts, "WHEELS")) {
        if !wheels.starts_with('/') && !wheels.contains("://") {
            deps.push(image(
                "wheels",
                Some(wheels),
                loci_label(labels, "wheels.digest"),
            ));
        } else {
            deps.push(json!({ "name": "wheels", "uri": wheels }));
        }
    }
    if let Some(repo) = input(facts, "PROJECT_REPO") {
        let mut d = json!({ "name": "source", "uri": format!("git+{repo}") });
        if let Some(commit) = input(facts, "PROJECT_REF").filter(|r| is_commit(r)) {
            d["digest"] = json!({ "gitCommit": commit });
        }
        deps.push(d);
    }
    let mut loci =
        json!({ "name": "loci", "uri": format!("git+{}", env!("CARGO_PKG_REPOSITORY")) });
    if let Some(commit) = loci_label(labels, "revision") {
        loci["digest"] = json!({ "gitCommit": commit });
    }
    if let Some(version) = loci_label(labels, "version").or_else(|| input(facts, "LOCI_VERSION")) {
        loci["annotations"] = json!({ "version": version });
    }
    deps.push(loci);
    deps
}

/// The SLSA v1 provenance predicate of an image.
pub fn predicate(facts: &Facts, builder: &Builder) -> Value {
    let args: BTreeMap<&str, &str> = facts
        .inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut run = json!({
        "builder": { "id": builder.id },
        "metadata": {},
    });
    if !builder.versions.is_empty() {
        run["builder"]["version"] = json!(builder.versions);
    }
    if let Some(created) = oci_label(&facts.labels, "created") {
        run["metadata"]["finishedOn"] = json!(created);
    }
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": { "buildArgs": args },
            "internalParameters": { "platform": facts.platform },
            "resolvedDependencies": dependencies(facts),
        },
        "runDetails": run,
    })
}

/// One check of a provenance against the image: what, the image's value, the provenance's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub what: String,
    pub image: String,
    pub provenance: String,
}

impl Check {
    pub fn passed(&self) -> bool {
        self.image == self.provenance
    }
}

fn dependency<'a>(predicate: &'a Value, name: &str) -> Option<&'a Value> {
    predicate["buildDefinition"]["resolvedDependencies"]
        .as_array()?
        .iter()
        .find(|d| d["name"] == name)
}

fn shown(v: Option<&str>) -> String {
    v.unwrap_or("(none)").to_string()
}

/// Compares a provenance predicate with the image: the base and wheels digests, the commit
/// built, loci's version and commit (against the labels), and the build arguments (against
/// inputs.env). Every check is returned; the caller fails on any that did not pass.
pub fn check(predicate: &Value, facts: &Facts) -> Vec<Check> {
    let labels = &facts.labels;
    let dep_digest = |name: &str, key: &str| -> Option<String> {
        let d = dependency(predicate, name)?;
        let v = d["digest"][key].as_str()?;
        Some(if key == "sha256" {
            format!("sha256:{v}")
        } else {
            v.to_string()
        })
    };
    let mut checks = vec![
        Check {
            what: "base image digest (label org.opencontainers.image.base.digest)".into(),
            image: shown(oci_label(labels, "base.digest")),
            provenance: shown(dep_digest("base", "sha256").as_deref()),
        },
        Check {
            what: format!("wheels image digest (label {LABEL_PREFIX}wheels.digest)"),
            image: shown(loci_label(labels, "wheels.digest")),
            provenance: shown(dep_digest("wheels", "sha256").as_deref()),
        },
        Check {
            what: "commit built (inputs.env PROJECT_REF)".into(),
            image: shown(input(facts, "PROJECT_REF").filter(|r| is_commit(r))),
            provenance: shown(dep_digest("source", "gitCommit").as_deref()),
        },
        Check {
            what: format!("loci version (label {LABEL_PREFIX}version)"),
            image: shown(loci_label(labels, "version")),
            provenance: shown(
                dependency(predicate, "loci").and_then(|d| d["annotations"]["version"].as_str()),
            ),
        },
        Check {
            what: format!("loci commit (label {LABEL_PREFIX}revision)"),
            image: shown(loci_label(labels, "revision")),
            provenance: shown(dep_digest("loci", "gitCommit").as_deref()),
        },
    ];
    // The revision label is the commit built when it names one (IMAGE_REVISION, or a
    // PROJECT_REF given as a commit).
    if let Some(revision) = oci_label(labels, "revision").filter(|r| is_commit(r)) {
        checks.push(Check {
            what: "commit built (label org.opencontainers.image.revision)".into(),
            image: revision.to_string(),
            provenance: shown(dep_digest("source", "gitCommit").as_deref()),
        });
    }
    let args: BTreeMap<String, String> = facts.inputs.iter().cloned().collect();
    let recorded: Option<BTreeMap<String, String>> = serde_json::from_value(
        predicate["buildDefinition"]["externalParameters"]["buildArgs"].clone(),
    )
    .ok();
    let differing: Vec<String> = match &recorded {
        None => vec!["(no buildArgs)".into()],
        Some(r) => args
            .keys()
            .chain(r.keys().filter(|k| !args.contains_key(*k)))
            .filter(|k| args.get(*k) != r.get(*k))
            .cloned()
            .collect(),
    };
    checks.push(Check {
        what: "build arguments (/etc/image_info/inputs.env)".into(),
        image: format!("{} arguments", args.len()),
        provenance: if differing.is_empty() {
            format!("{} arguments", args.len())
        } else {
            format!("differs in {}", differing.join(", "))
        },
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        let labels: BTreeMap<String, String> = [
            ("org.opencontainers.image.base.name", "reg/base@sha256:aa"),
            ("org.opencontainers.image.base.digest", "sha256:aa"),
            ("org.opencontainers.image.revision", &"c".repeat(40)),
            ("org.opencontainers.image.created", "2023-11-14T22:13:20Z"),
            ("org.openstack.loci.wheels", "reg/wheels@sha256:bb"),
            ("org.openstack.loci.wheels.digest", "sha256:bb"),
            ("org.openstack.loci.version", "0.1.0"),
            ("org.openstack.loci.revision", &"d".repeat(40)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Facts {
            platform: "linux/amd64".into(),
            labels,
            sbom: json!({}),
            inputs: vec![
                ("FROM".into(), "reg/base@sha256:aa".into()),
                ("PROJECT_REPO".into(), "git://127.0.0.1/keystone".into()),
                ("PROJECT_REF".into(), "c".repeat(40)),
                ("LOCI_VERSION".into(), "0.1.0".into()),
            ],
        }
    }

    #[test]
    fn the_provenance_of_an_image_passes_its_checks() {
        let f = facts();
        let p = predicate(&f, &Builder::default());
        let deps = p["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap();
        let names: Vec<&str> = deps.iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["base", "wheels", "source", "loci"]);
        assert_eq!(deps[0]["digest"]["sha256"], "aa");
        assert_eq!(deps[0]["uri"], "docker://reg/base@sha256:aa");
        assert_eq!(deps[2]["digest"]["gitCommit"], "c".repeat(40));
        assert_eq!(deps[3]["annotations"]["version"], "0.1.0");
        assert_eq!(
            p["runDetails"]["metadata"]["finishedOn"],
            "2023-11-14T22:13:20Z"
        );
        let checks = check(&p, &f);
        assert_eq!(checks.len(), 7);
        assert!(checks.iter().all(Check::passed), "{checks:?}");
    }

    #[test]
    fn a_provenance_of_other_inputs_fails_the_check_that_names_them() {
        let f = facts();
        let mut p = predicate(&f, &Builder::default());
        p["buildDefinition"]["resolvedDependencies"][1]["digest"]["sha256"] = json!("ee");
        p["buildDefinition"]["externalParameters"]["buildArgs"]["FROM"] = json!("other");
        let failed: Vec<Check> = check(&p, &f).into_iter().filter(|c| !c.passed()).collect();
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert!(failed[0].what.contains("wheels image digest"));
        assert_eq!(failed[0].image, "sha256:bb");
        assert_eq!(failed[0].provenance, "sha256:ee");
        assert_eq!(failed[1].provenance, "differs in FROM");
    }

    #[test]
    fn old_label_keys_are_read_for_one_release() {
        let labels: BTreeMap<String, String> = [("loci.version", "0.0.9"), ("loci.wheels", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(loci_label(&labels, "version"), Some("0.0.9"));
        assert_eq!(loci_label(&labels, "wheels"), None);
    }
}
