//! tools/gate.sh across machines, the light parts: the shards' slices of the image set
//! (`LOCI_GATE_SHARD=i/n`), the merge of shard summaries into manifest lists against a real
//! registry (Debian's docker-registry on 127.0.0.1, small images pushed over its API, `docker
//! buildx imagetools` as the merge runs it), and summary.json against its documented schema
//! (tools/gate-summary.schema.json, checked with Debian's python3-jsonschema). The heavy proof
//! (three engines, real builds) is bench/gate-shards.sh.

#[path = "support/listing.rs"]
mod listing;
#[path = "support/registry_server.rs"]
mod registry_server;
use listing::listing;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use registry_server::*;
use serde_json::{json, Value};

const ALL: usize = 30;
const DOCKER: &str = "/usr/bin/docker";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `bash tools/gate.sh ARGS` with ENV, nothing else of the caller's LOCI_GATE_* settings.
fn gate(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("bash");
    c.current_dir(root()).arg("tools/gate.sh").args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("LOCI_GATE_") {
            c.env_remove(k);
        }
    }
    c.envs(env.iter().copied());
    c.output().expect("run bash tools/gate.sh")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn services(shard: &str, args: &[&str], list: Option<&str>) -> Vec<String> {
    let mut env = vec![("LOCI_GATE_SHARD", shard)];
    if let Some(l) = list {
        env.push(("LOCI_GATE_SERVICES", l));
    }
    let mut a = vec!["services"];
    a.extend_from_slice(args);
    let out = gate(&a, &env);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn shards_take_every_service_once_round_robin() {
    let all = services("1/1", &[], None);
    assert_eq!(all.len(), ALL, "{all:?}");
    assert_eq!(all[0], "keystone");
    for n in 1..=7 {
        let mut seen = BTreeSet::new();
        let mut sizes = Vec::new();
        for i in 1..=n {
            let slice = services(&format!("{i}/{n}"), &[], None);
            // Round robin: shard i holds the services at positions i, i+n, ... of the list.
            let want: Vec<String> = all.iter().skip(i - 1).step_by(n).cloned().collect();
            assert_eq!(slice, want, "shard {i}/{n}");
            sizes.push(slice.len());
            for s in slice {
                assert!(seen.insert(s.clone()), "{s} in two shards of {n}");
            }
        }
        assert_eq!(seen.len(), ALL, "the {n} shards together");
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= 1, "uneven shards of {n}: {sizes:?}");
    }
    // A list (arguments or LOCI_GATE_SERVICES, spaces or commas), sliced in its own order.
    assert_eq!(
        services("2/2", &["nova", "glance", "keystone"], None),
        ["glance"]
    );
    assert_eq!(
        services("1/2", &[], Some("nova,glance keystone")),
        ["nova", "keystone"]
    );
    // More shards than services: the last ones are empty, not an error.
    assert!(services("3/3", &["nova", "glance"], None).is_empty());
}

#[test]
fn bad_shards_and_unknown_services_are_refused_by_name() {
    // Each input checked before anything is downloaded or built: the shard, nova's consoles'
    // port, the number of builds at a time (0 would leave no build slot: a hang), the layers'
    // compression.
    let cases: [(&str, &[&str], &str); 4] = [
        (
            "LOCI_GATE_SHARD",
            &["0/2", "3/2", "a/b", "2", "1/0", "-1/2", "1/2/3"],
            "i/n",
        ),
        (
            "LOCI_GATE_CONSOLES_PORT",
            &["abc", "0", "70000", "-1"],
            "TCP port",
        ),
        (
            "LOCI_GATE_JOBS",
            &["0", "abc", "-1", "1.5", ""],
            "1 or more",
        ),
        (
            "LOCI_GATE_COMPRESSION",
            &["gz", "zstd:chunked", "none", "ZSTD"],
            "gzip, zstd or uncompressed",
        ),
    ];
    for (var, bads, expected) in cases {
        for bad in bads {
            let out = gate(&["services"], &[(var, bad)]);
            assert_eq!(out.status.code(), Some(2), "{var}={bad}: {}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!("{var}={bad}:")) && err.contains(expected),
                "{var}={bad}: {err}"
            );
        }
    }
    let out = gate(&["services", "keystone", "novaa"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown service novaa"),
        "{}",
        text(&out)
    );
}

/// Validates `doc` against tools/gate-summary.schema.json; Err holds the validator's message.
fn validate(doc: &Value) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("summary.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let script = r#"
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit("python3-jsonschema is missing: apt-get install python3-jsonschema (tools/setup-host.sh installs it)")
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))), key=str)
for e in errors:
    print("/".join(map(str, e.absolute_path)), ":", e.message)
sys.exit(3 if errors else 0)
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(root().join("tools/gate-summary.schema.json"))
        .arg(&file)
        .output()
        .expect("python3 (tools/setup-host.sh installs it)");
    match out.status.code() {
        Some(0) => Ok(()),
        Some(3) => Err(String::from_utf8_lossy(&out.stdout).into_owned()),
        _ => panic!("the schema check could not run: {}", text(&out)),
    }
}

fn row(name: &str, platform: &str, status: &str, digest: Option<&str>, reg: &str) -> Value {
    let built = status == "built";
    json!({
        "name": name, "target": "project", "repository": format!("loci-gate/{name}"),
        "tag": "2026.1", "platform": platform, "status": status,
        "digest": digest,
        "reference": digest.map(|d| format!("{reg}/loci-gate/{name}@{d}")),
        "size_bytes": if built { json!(123456789) } else { Value::Null },
        "loci_seconds": if built { json!(9) } else { Value::Null },
        "wall_seconds": 31,
        "smoke": if built { json!({"result": "ok", "detail": "3 scripts, 12 entry points", "log": format!("logs/{name}-smoke.log")}) } else { Value::Null },
        "sbom": if built { json!("/etc/image_info/sbom.cdx.json") } else { Value::Null },
        "log": format!("logs/{name}-build.log"),
        "reason": if built { Value::Null } else { json!(format!("build failed: {name} (test)")) },
    })
}

fn names(rows: &[Value], status: &str) -> Value {
    Value::Array(
        rows.iter()
            .filter(|r| r["status"] == status)
            .map(|r| json!({"name": r["name"], "tag": r["tag"], "platform": r["platform"]}))
            .collect(),
    )
}

fn shard_summary(shard: &str, platform: &str, reg: &str, rows: Vec<Value>) -> Value {
    let input = |k: &str| {
        json!({"reference": format!("{reg}/loci-gate/{k}@sha256:{}", "1".repeat(64)),
               "digest": format!("sha256:{}", "1".repeat(64)), "platform": platform})
    };
    json!({
        "schema_version": 1, "kind": "shard", "run": "1767225600-42", "shard": shard,
        "platform": platform, "tag": "2026.1", "registry": reg,
        "engine": {"host": "test", "docker_host": "unix:///run/test.sock", "version": "26.1.5"},
        "started": "2026-12-05T06:00:00Z", "finished": "2026-12-05T06:10:00Z",
        "inputs": {"loci": input("loci"), "base": input("base"), "requirements": input("requirements")},
        "built": names(&rows, "built"), "failed": names(&rows, "failed"),
        "skipped": names(&rows, "skipped"), "unbuildable": names(&rows, "unbuildable"),
        "images": rows,
    })
}

/// An index of one small image for `arch` under `tag` in `repo`; returns the index's digest.
fn push_arch(reg: &Registry, repo: &str, tag: &str, arch: &str, seed: u64) -> String {
    let layer = gzip(&tar(&[(
        "etc/loci-test",
        format!("{repo} {arch} {seed}").as_bytes(),
    )]));
    let (digest, size) = push_image(
        reg,
        repo,
        &format!("{tag}-image"),
        &[(layer, OCI_LAYER_GZIP)],
        Flavor::Oci,
    );
    push_index(reg, repo, tag, &[(digest, size, arch, None)], Flavor::Oci)
}

/// The digest a tag points at, and the platforms of its index.
fn tag_of(reg: &Registry, repo: &str, tag: &str) -> (String, Vec<String>) {
    let resp = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/v2/{repo}/manifests/{tag}", reg.base()))
        .header(
            "accept",
            format!("{OCI_INDEX}, {OCI_MANIFEST}, {DOCKER_LIST}, {DOCKER_MANIFEST}"),
        )
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{repo}:{tag}");
    let digest = resp.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = resp.json().unwrap();
    let mut platforms: Vec<String> = body["manifests"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|d| d["platform"]["architecture"].as_str())
                .filter(|a| *a != "unknown")
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    platforms.sort();
    (digest, platforms)
}

fn write(dir: &Path, name: &str, doc: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    p.display().to_string()
}

#[test]
fn merge_promotes_only_what_every_shard_built_and_pushed() {
    require(DOCKER);
    require("jq");
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let staging = "staging-2026.1";
    // keystone: built by both shards (amd64 and arm64); glance: arm64 failed; nova: amd64's
    // digest is not in the registry; neutron: unbuildable on arm64.
    let k_amd = push_arch(
        &reg,
        "loci-gate/keystone",
        &format!("{staging}-linux-amd64"),
        "amd64",
        1,
    );
    let k_arm = push_arch(
        &reg,
        "loci-gate/keystone",
        &format!("{staging}-linux-arm64"),
        "arm64",
        2,
    );
    let g_amd = push_arch(
        &reg,
        "loci-gate/glance",
        &format!("{staging}-linux-amd64"),
        "amd64",
        3,
    );
    let n_arm = push_arch(
        &reg,
        "loci-gate/nova",
        &format!("{staging}-linux-arm64"),
        "arm64",
        4,
    );
    let u_amd = push_arch(
        &reg,
        "loci-gate/neutron",
        &format!("{staging}-linux-amd64"),
        "amd64",
        5,
    );
    // The tags of an earlier release, which a failed image must keep.
    let g_old = push_arch(&reg, "loci-gate/glance", "2026.1", "amd64", 10);
    let n_old = push_arch(&reg, "loci-gate/nova", "2026.1", "amd64", 11);
    let missing = format!("sha256:{}", "e".repeat(64));

    let dir = tempfile::tempdir().unwrap();
    let a = shard_summary(
        "1/2",
        "linux/amd64",
        &host,
        vec![
            row("keystone", "linux/amd64", "built", Some(&k_amd), &host),
            row("glance", "linux/amd64", "built", Some(&g_amd), &host),
            row("nova", "linux/amd64", "built", Some(&missing), &host),
            row("neutron", "linux/amd64", "built", Some(&u_amd), &host),
        ],
    );
    let mut skipped = row("placement", "linux/arm64", "skipped", None, &host);
    skipped["reason"] = json!("not in shard 2/2");
    let b = shard_summary(
        "2/2",
        "linux/arm64",
        &host,
        vec![
            row("keystone", "linux/arm64", "built", Some(&k_arm), &host),
            row("glance", "linux/arm64", "failed", None, &host),
            row("nova", "linux/arm64", "built", Some(&n_arm), &host),
            row("neutron", "linux/arm64", "unbuildable", None, &host),
            skipped,
        ],
    );
    // The shard summaries as the test gives them are in the documented format.
    validate(&a).unwrap_or_else(|e| panic!("shard 1/2: {e}"));
    validate(&b).unwrap_or_else(|e| panic!("shard 2/2: {e}"));
    let fa = write(dir.path(), "a.json", &a);
    let fb = write(dir.path(), "b.json", &b);
    let work = dir.path().join("work");
    let out = gate(
        &["merge", &fa, &fb],
        &[("LOCI_GATE_WORK", work.to_str().unwrap())],
    );
    let log = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a held image fails the merge: {log}"
    );

    // keystone: one list of both platforms, under its tag.
    let (k_digest, k_platforms) = tag_of(&reg, "loci-gate/keystone", "2026.1");
    assert_eq!(k_platforms, ["amd64", "arm64"], "{log}");
    // glance, nova: the earlier release's tags, untouched.
    assert_eq!(tag_of(&reg, "loci-gate/glance", "2026.1").0, g_old, "{log}");
    assert_eq!(tag_of(&reg, "loci-gate/nova", "2026.1").0, n_old, "{log}");
    let resp = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!(
            "{}/v2/loci-gate/neutron/manifests/2026.1",
            reg.base()
        ))
        .header("accept", OCI_INDEX)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404, "neutron got a tag: {log}");

    let merged: Value =
        serde_json::from_slice(&std::fs::read(work.join("summary.json")).unwrap()).unwrap();
    validate(&merged).unwrap_or_else(|e| panic!("merged summary: {e}\n{merged:#}"));
    assert_eq!(merged["kind"], "merged");
    assert_eq!(merged["shards"][0]["file"], fa);
    assert_eq!(merged["shards"][1]["shard"], "2/2");
    let manifest = |repo: &str| {
        merged["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["repository"] == repo)
            .unwrap_or_else(|| panic!("{repo} in {merged:#}"))
            .clone()
    };
    let k = manifest("loci-gate/keystone");
    assert_eq!(k["status"], "promoted", "{k:#}");
    assert_eq!(k["digest"], k_digest.as_str());
    assert_eq!(k["platforms"], json!(["linux/amd64", "linux/arm64"]));
    let g = manifest("loci-gate/glance");
    assert_eq!(g["status"], "held");
    assert!(
        g["reason"]
            .as_str()
            .unwrap()
            .contains("linux/arm64 failed in shard 2/2"),
        "{g:#}"
    );
    let n = manifest("loci-gate/nova");
    assert_eq!(n["status"], "held");
    assert!(
        n["reason"].as_str().unwrap().contains(&missing),
        "the missing digest named: {n:#}"
    );
    let u = manifest("loci-gate/neutron");
    assert_eq!(u["status"], "held");
    assert!(
        u["reason"].as_str().unwrap().contains("unbuildable"),
        "{u:#}"
    );
    // placement was skipped by the only shard that lists it: nothing to promote.
    assert!(merged["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["repository"] != "loci-gate/placement"));
    assert_eq!(merged["failed"].as_array().unwrap().len(), 1, "{merged:#}");
    assert_eq!(merged["unbuildable"].as_array().unwrap().len(), 1);
    assert_eq!(merged["skipped"].as_array().unwrap().len(), 1);
    // The table, printed from the merged summary.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{host}/loci-gate/keystone:2026.1"))
            && stdout.contains("promoted")
            && stdout.contains("HELD"),
        "{log}"
    );
    let table = gate(&["table", work.join("summary.json").to_str().unwrap()], &[]);
    assert!(table.status.success(), "{}", text(&table));
    assert_eq!(
        String::from_utf8_lossy(&table.stdout),
        stdout
            .lines()
            .take_while(|l| !l.starts_with("gate.sh merge:"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    );

    // What the schema refuses: an unknown status, a promoted list without a digest.
    let mut bad = merged.clone();
    bad["images"][0]["status"] = json!("maybe");
    assert!(validate(&bad).unwrap_err().contains("maybe"));
    let mut bad = merged.clone();
    for m in bad["manifests"].as_array_mut().unwrap() {
        if m["status"] == "promoted" {
            m["digest"] = Value::Null;
        }
    }
    assert!(validate(&bad).is_err());
    let mut bad = merged;
    bad["schema_version"] = json!(2);
    assert!(validate(&bad).is_err());

    // A merge of anything but shard summaries is refused before the registry is touched.
    let out = gate(
        &["merge", work.join("summary.json").to_str().unwrap()],
        &[("LOCI_GATE_WORK", dir.path().join("w2").to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not a shard summary"), "{}", text(&out));
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn a_shard_without_its_inputs_in_the_registry_is_unbuildable_in_its_summary() {
    require(DOCKER);
    let reg = Registry::start(Options::default());
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let out = gate(
        &[],
        &[
            ("LOCI_GATE_SETUP", "0"),
            ("LOCI_GATE_REGISTRY", &reg.host()),
            ("LOCI_GATE_SHARD", "2/3"),
            ("LOCI_GATE_SERVICES", "keystone glance nova placement"),
            ("LOCI_GATE_PLATFORMS", "linux/amd64"),
            ("LOCI_GATE_MIN_FREE_GB", "0"),
            ("LOCI_GATE_WORK", work.to_str().unwrap()),
        ],
    );
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("tools/gate.sh inputs"), "the hint: {log}");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(work.join("summary.json")).unwrap()).unwrap();
    validate(&summary).unwrap_or_else(|e| panic!("{e}\n{summary:#}"));
    assert_eq!(summary["kind"], "shard");
    assert_eq!(summary["shard"], "2/3");
    assert_eq!(summary["registry"], reg.host().as_str());
    let status: Vec<(String, String)> = summary["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut status = status;
    status.sort();
    assert_eq!(
        status,
        [
            ("glance".to_string(), "unbuildable".to_string()),
            ("keystone".to_string(), "skipped".to_string()),
            ("nova".to_string(), "skipped".to_string()),
            ("placement".to_string(), "skipped".to_string()),
        ],
        "shard 2/3 of four: glance only"
    );
    assert_eq!(summary["inputs"]["requirements"]["digest"], Value::Null);
    // The table is the summary's.
    let table = std::fs::read_to_string(work.join("table.txt")).unwrap();
    assert!(
        table.contains("UNBUILDABLE") && table.contains("unbuildable 1"),
        "{table}"
    );
}

/// The one list of services: tools/gate.sh's, compose.yaml's services (but base and
/// requirements) and docker-bake.hcl's SERVICES are the same 30.
#[test]
fn the_gate_compose_and_bake_name_the_same_services() {
    let gate: BTreeSet<String> = services("1/1", &[], None).into_iter().collect();
    let compose_text = std::fs::read_to_string(root().join("compose.yaml")).unwrap();
    let mut compose = BTreeSet::new();
    let mut in_services = false;
    for line in compose_text.lines() {
        if line == "services:" {
            in_services = true;
        } else if in_services && line.starts_with("  ") && !line.starts_with("   ") {
            if let Some(name) = line.trim().strip_suffix(':') {
                if !line.trim_start().starts_with('#') {
                    compose.insert(name.to_string());
                }
            }
        }
    }
    assert!(compose.remove("base") && compose.remove("requirements"));
    let bake_text = std::fs::read_to_string(root().join("docker-bake.hcl")).unwrap();
    let start = bake_text
        .find("variable \"SERVICES\"")
        .expect("SERVICES in docker-bake.hcl");
    let default = bake_text[start..]
        .lines()
        .find_map(|l| l.trim().strip_prefix("default = "))
        .unwrap()
        .trim_matches('"');
    let bake: BTreeSet<String> = default.split(',').map(String::from).collect();
    assert_eq!(gate.len(), ALL);
    assert_eq!(gate, compose, "tools/gate.sh and compose.yaml");
    assert_eq!(gate, bake, "tools/gate.sh and docker-bake.hcl");
}

/// Signing in the gate (COSIGN_KEY): `summary_add_signatures` puts the digests `loci sign`
/// wrote (its --summary: an index and its platform images, signature and attestations) into
/// the rows of summary.json they belong to, by digest; rows nothing was signed for stay as they
/// were, and the result still follows the schema.
#[test]
fn the_signature_and_attestation_digests_go_into_the_summary() {
    let reg = "127.0.0.1:5000";
    let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
    let rows = vec![
        row("keystone", "linux/amd64", "built", Some(&d('a')), reg),
        row("nova", "linux/amd64", "failed", None, reg),
        row("glance", "linux/amd64", "built", Some(&d('b')), reg),
    ];
    let summary = shard_summary("1/1", "linux/amd64", reg, rows);
    let keystone = format!("{reg}/loci-gate/keystone");
    let att = |m: char, l: char| json!({"manifest": d(m), "layer": d(l)});
    let signed = json!({"signed": [
        {"reference": format!("{keystone}@{}", d('a')), "image": format!("{keystone}@{}", d('a')),
         "digest": d('a'), "platform": "index", "scheme": "tags", "signature": d('1'),
         "attestations": {}},
        {"reference": format!("{keystone}@{}", d('a')), "image": format!("{keystone}@{}", d('c')),
         "digest": d('c'), "platform": "linux/amd64", "scheme": "tags", "signature": d('2'),
         "attestations": {"https://cyclonedx.org/bom": att('3', '4'),
                          "https://slsa.dev/provenance/v1": att('3', '5')}},
    ]});
    let dir = tempfile::tempdir().unwrap();
    let summary_file = write(dir.path(), "summary.json", &summary);
    let signed_file = write(dir.path(), "signed.json", &signed);
    let out = Command::new("bash")
        .current_dir(root())
        .args([
            "-c",
            "set -euo pipefail; source tools/gate-summary.sh; summary_add_signatures \"$1\" \"$2\"",
            "bash",
        ])
        .args([&summary_file, &signed_file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&std::fs::read(&summary_file).unwrap()).unwrap();
    let images = doc["images"].as_array().unwrap();
    // keystone's row (its digest the index's): the linux/amd64 image's signature and attestations.
    assert_eq!(images[0]["signature"], d('2'));
    assert_eq!(
        images[0]["attestations"],
        json!([
            {"predicate_type": "https://cyclonedx.org/bom", "digest": d('4')},
            {"predicate_type": "https://slsa.dev/provenance/v1", "digest": d('5')},
        ])
    );
    // nova failed, glance was not signed: as they were.
    for (i, before) in [(1, &summary["images"][1]), (2, &summary["images"][2])] {
        assert_eq!(&images[i], before);
    }
    validate(&doc).unwrap();
    let mut bad = doc.clone();
    bad["images"][0]["signature"] = json!("not a digest");
    assert!(validate(&bad).is_err(), "the schema takes any signature");
}

/// An incremental run: an image whose digest passed its smoke test in an earlier run is
/// `built` and `unchanged` (its row and the shard's `unchanged` list), valid under the schema,
/// and the table says so; the other rows say `unchanged: false`.
#[test]
fn unchanged_images_are_rows_of_their_own_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    std::fs::create_dir_all(&results).unwrap();
    let inputs = dir.path().join("inputs.json");
    let input = |k: &str| {
        json!({"reference": format!("loci-gate/{k}"), "digest": format!("sha256:{}", "1".repeat(64)),
               "platform": "linux/amd64"})
    };
    std::fs::write(
        &inputs,
        json!({"loci": input("loci"), "base": input("base"), "requirements": input("requirements")})
            .to_string(),
    )
    .unwrap();
    let summary = dir.path().join("summary.json");
    let script = r#"set -euo pipefail; source tools/gate-summary.sh
        results=$1; summary=$2; inputs=$3
        docker=/bin/false; shard=1/1; platform=linux/amd64; LOCI_GATE_TAG=2026.1; LOCI_GATE_RUN=1-1
        d=sha256:$(printf 'a%.0s' $(seq 64))
        summary_row "$results/keystone.json" name=keystone target=project repository=loci-gate/keystone \
            tag=2026.1 platform=linux/amd64 status=built digest="$d" smoke_result=ok smoke_detail="12 scripts" \
            log=logs/keystone-build.log unchanged=1
        summary_row "$results/glance.json" name=glance target=project repository=loci-gate/glance \
            tag=2026.1 platform=linux/amd64 status=built digest="$d" smoke_result=ok log=logs/glance-build.log unchanged=0
        summary_write "$summary" "$results" "$inputs" 2026-12-05T09:00:00Z '[]'
        summary_table "$summary""#;
    let out = Command::new("bash")
        .current_dir(root())
        .args(["-c", script, "bash"])
        .args([&results, &summary, &inputs])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    validate(&doc).unwrap();
    let by_name = |n: &str| {
        doc["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("keystone")["unchanged"], json!(true));
    assert_eq!(by_name("glance")["unchanged"], json!(false));
    assert_eq!(
        doc["unchanged"],
        json!([{"name": "keystone", "tag": "2026.1", "platform": "linux/amd64"}])
    );
    assert_eq!(doc["built"].as_array().unwrap().len(), 2);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("ok (unchanged): 12 scripts"), "{table}");
    assert!(table.contains("built 2 (1 unchanged)"), "{table}");
    let mut bad = doc.clone();
    bad["images"][0]["unchanged"] = json!("yes");
    assert!(validate(&bad).is_err(), "unchanged is a boolean");
}

/// Every file of a tree as BuildKit's cache key sees it (path, kind, mode; bytes or link
/// target), times left out as BuildKit leaves them out.
fn tree_of(dir: &Path) -> Vec<(String, String, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut entries = Vec::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        let meta = e.path().symlink_metadata().unwrap();
        let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
        let (kind, content) = if meta.file_type().is_symlink() {
            let target = std::fs::read_link(e.path()).unwrap();
            ("link", target.display().to_string().into_bytes())
        } else if meta.is_dir() {
            ("dir", Vec::new())
        } else {
            ("file", std::fs::read(e.path()).unwrap())
        };
        entries.push((rel, kind.to_string(), meta.permissions().mode(), content));
    }
    entries
}

/// The inputs' build contexts (`tools/gate.sh contexts`: base, requirements) are the same
/// bytes in every run, whatever the run before left in the work dir, whatever the umask and
/// the time: BuildKit's cache key of a build is its context's content, and a new base image
/// rebuilds every image after it (a second gate run with unchanged inputs built the
/// requirements image again: the base's RUN mounted a context that held the previous run's
/// source trees). Each context holds only what its build reads.
#[test]
fn the_inputs_contexts_are_the_same_bytes_in_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let only = dir.path().join("only.txt");
    std::fs::write(&only, "six\nidna\npbr\n").unwrap();
    let run = |umask: &str| {
        let mut c = Command::new("bash");
        c.current_dir(root()).args([
            "-c",
            "umask \"$1\"; exec bash tools/gate.sh contexts",
            "bash",
            umask,
        ]);
        for (k, _) in std::env::vars() {
            if k.starts_with("LOCI_GATE_") || k == "SOURCE_DATE_EPOCH" {
                c.env_remove(k);
            }
        }
        c.env("LOCI_GATE_WORK", &work)
            .env("LOCI_GATE_SOURCES", "pypi")
            .env("LOCI_GATE_REQUIREMENTS_ONLY", &only);
        let out = c.output().expect("run bash tools/gate.sh contexts");
        assert!(out.status.success(), "{}", text(&out));
        let printed = String::from_utf8_lossy(&out.stdout).to_string();
        let base = work.join("contexts/base");
        let req = work.join("contexts/requirements");
        assert_eq!(
            printed,
            format!("{}\n{}\n", base.display(), req.display()),
            "it prints the contexts"
        );
        (tree_of(&base), tree_of(&req))
    };
    let first = run("022");
    // What a run leaves: source trees in the per-service contexts, the seeded trees, and the
    // shared context of the layout before (whose data dir the base's RUN mounted).
    for d in [
        "contexts/keystone/data/keystone",
        "trees/keystone",
        "context/data/keystone",
    ] {
        std::fs::create_dir_all(work.join(d)).unwrap();
        std::fs::write(work.join(d).join("setup.py"), "# a previous run\n").unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = run("077");
    for (name, a, b) in [
        ("base", &first.0, &second.0),
        ("requirements", &first.1, &second.1),
    ] {
        let paths = |t: &[(String, String, u32, Vec<u8>)]| -> BTreeSet<String> {
            t.iter().map(|e| e.0.clone()).collect()
        };
        assert_eq!(
            paths(a),
            paths(b),
            "the {name} context's files differ between runs"
        );
        for (x, y) in a.iter().zip(b.iter()) {
            assert_eq!(
                (&x.0, &x.1, x.2),
                (&y.0, &y.1, y.2),
                "the {name} context: a kind or mode differs"
            );
            assert!(
                x.3 == y.3,
                "the {name} context: {} differs between runs",
                x.0
            );
        }
    }
    let base = work.join("contexts/base");
    let req = work.join("contexts/requirements");
    assert_eq!(listing(&base), ["Dockerfile.base", "certs", "dockerfiles"]);
    assert_eq!(
        listing(&req),
        ["Dockerfile", "bindep.txt", "data", "pydep.txt"]
    );
    assert_eq!(
        listing(&req.join("data")),
        ["requirements", "requirements-only.txt"]
    );
    assert!(
        !work.join("context").exists(),
        "the old shared context is gone"
    );
    // The seeded constraints: a commit at the fixed time, tagged with the release.
    let out = Command::new("git")
        .args(["-C", req.join("data/requirements").to_str().unwrap()])
        .args(["log", "-1", "--format=%ct %s", "2026.1"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1775001600 2026.1",
        "{}",
        text(&out)
    );
    let out = Command::new("git")
        .args(["-C", req.join("data/requirements").to_str().unwrap()])
        .args(["status", "--porcelain"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        text(&out)
    );
}
