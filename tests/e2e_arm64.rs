//! arm64 on this x86_64 machine: the cross-compiled static aarch64 loci, run under qemu in an
//! arm64 Debian container; bake's platforms; and (a documented command, not part of the
//! suite: see below) the whole keystone image set for linux/amd64 + linux/arm64 as manifest
//! lists, built under emulation, pushed to a registry on 127.0.0.1, pulled back per platform
//! and issuing tokens.
//!
//! Needs Docker with the containerd image store, qemu-user-static and binfmt_misc as
//! tools/setup-host.sh leaves them: run with `sudo tests/run.sh`.
//!
//! The emulated end-to-end test takes far longer than the suite's budget on 2 cores (keystone's
//! requirements and service builds run under qemu), so tests/run.sh skips it; it is run with
//! `sudo bench/arm64.sh`, which records its figures (bench/README.md).

#[path = "support/e2e.rs"]
mod e2e;

#[path = "support/arm64.rs"]
mod arm64;

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use arm64::*;
use e2e::*;

/// The loci of tools/cross-build.sh is a static aarch64 executable, names its target, and plans
/// for aarch64 inside an arm64 Debian container under qemu (the requirements build's aarch64
/// exception comes from the binary's own architecture).
#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn the_cross_built_loci_is_static_aarch64_and_plans_in_an_arm64_container() {
    require_docker();
    require_qemu_aarch64();
    let _guard = lock();
    let bin = cross_loci_arm64();
    let kind = file_type(&bin);
    assert!(
        kind.contains("ARM aarch64") && kind.contains("statically linked"),
        "{}: {kind}",
        bin.display()
    );

    let rootfs = arm64_rootfs_image();
    let mount = format!("{}:/loci:ro", bin.display());
    let out = run_on(
        "linux/arm64",
        &[
            "--network",
            "none",
            "-v",
            &mount,
            &rootfs,
            "sh",
            "-c",
            "uname -m; /loci --version; dpkg --print-architecture",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "aarch64",
            &format!(
                "loci {} (aarch64-unknown-linux-gnu)",
                env!("CARGO_PKG_VERSION")
            ),
            "arm64"
        ],
        "{out}"
    );

    let plan = |project: &str| -> serde_json::Value {
        let text = run_on(
            "linux/arm64",
            &[
                "--network",
                "none",
                "-v",
                &mount,
                "-e",
                &format!("PROJECT={project}"),
                "-e",
                "PROJECT_REF=stable/2026.1",
                &rootfs,
                "/loci",
                "plan",
                "--json",
            ],
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("plan --json: {e}\n{text}"))
    };
    let keystone = plan("keystone");
    assert_eq!(keystone["project"], "keystone", "{keystone}");
    assert_eq!(
        (&keystone["distro"]["id"], &keystone["distro"]["codename"]),
        (&serde_json::json!("debian"), &serde_json::json!("bookworm")),
        "not planned for this container's Debian bookworm: {keystone}"
    );
    let requirements = plan("requirements");
    let drops = requirements["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "requirements")
        .map(|s| s.to_string())
        .unwrap_or_default();
    assert!(
        drops.contains("confluent-kafka"),
        "an aarch64 requirements build drops confluent-kafka (LOCI's exception): {drops}"
    );
}

/// docker-bake.hcl gives every target LOCI_PLATFORMS' platforms, and none without it (the
/// builder's own), as bake reads the files.
#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn bake_builds_every_image_for_loci_platforms() {
    require_docker();
    let print = |platforms: Option<&str>| -> serde_json::Value {
        let mut cmd = docker();
        cmd.current_dir(root()).args([
            "buildx",
            "bake",
            "-f",
            "compose.yaml",
            "-f",
            "docker-bake.hcl",
            "--print",
        ]);
        cmd.env_remove("LOCI_PLATFORMS");
        if let Some(p) = platforms {
            cmd.env("LOCI_PLATFORMS", p);
        }
        serde_json::from_str(&stdout(&mut cmd)).unwrap()
    };
    let both = print(Some("linux/amd64,linux/arm64"));
    let targets = both["target"].as_object().unwrap();
    assert!(targets.len() >= 32, "{}", targets.len());
    for (name, t) in targets {
        assert_eq!(
            t["platforms"],
            serde_json::json!(["linux/amd64", "linux/arm64"]),
            "bake target {name}: {t}"
        );
    }
    for (name, t) in print(None)["target"].as_object().unwrap() {
        assert!(
            t.get("platforms")
                .is_none_or(|p| p.as_array().is_some_and(|a| a.is_empty())),
            "bake target {name} without LOCI_PLATFORMS: {t}"
        );
    }
}

/// The README's main job for both platforms, `PLATFORMS=linux/amd64,linux/arm64
/// tools/build-keystone.sh`, under emulation for arm64: base, requirements and keystone are
/// manifest lists of both; the arm64 requirements image holds only aarch64 or pure-Python
/// wheels; every image is pushed to a registry on 127.0.0.1 and each keystone is pulled back
/// by its platform's digest (on a second, clean engine when LOCI_E2E_SECOND_DOCKER_HOST names
/// one, else after removing the local copies) and issues a token; a two-stage (`--target
/// runtime`) arm64 keystone issues one too. Figures in target/e2e/timings.txt.
#[test]
#[ignore = "needs docker and about an hour of emulated arm64 builds: bench/arm64.sh"]
fn emulated_arm64_keystone_set_as_manifest_lists_issues_tokens() {
    require_docker();
    require_qemu_aarch64();
    let _guard = lock();

    // a. The main job, for both platforms.
    let started = Instant::now();
    let log = work_dir().join("logs/build-keystone-multi-platform.log");
    fs::create_dir_all(log.parent().unwrap()).unwrap();
    // Logged as it runs (it takes long): `tail -f` the log to follow it.
    let file = fs::File::create(&log).unwrap();
    let status = Command::new("bash")
        .arg(root().join("tools/build-keystone.sh"))
        .current_dir(root())
        .env("PLATFORMS", "linux/amd64,linux/arm64")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap();
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        status.success(),
        "PLATFORMS=linux/amd64,linux/arm64 tools/build-keystone.sh failed; log {}:\n{}",
        log.display(),
        text.lines()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    record(&format!(
        "E2E-BUILD-TIME build-keystone-amd64+arm64 {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    for line in text
        .lines()
        .filter(|l| l.starts_with("== ") && l.contains(" took ") || l.contains(" MB of files"))
    {
        record(&format!("E2E-MULTI-PLATFORM {line}"));
    }

    // b. Every image is a manifest list of both platforms: pushed to a registry and read there.
    let registry = registry();
    let reg = format!("127.0.0.1:{}", registry.port);
    let mut digests = Vec::new();
    for image in [
        "loci/base:debian",
        "loci/requirements:2026.1",
        "loci/keystone:2026.1",
    ] {
        let remote = format!("{reg}/{image}");
        check(docker().args(["tag", image, &remote]));
        check(docker().args(["push", &remote]));
        let (name, tag) = image.split_once(':').unwrap();
        let platforms = index_platforms(registry.port, name, tag);
        let set: BTreeSet<&str> = platforms.iter().map(|(p, _)| p.as_str()).collect();
        assert!(
            set.contains("linux/amd64") && set.contains("linux/arm64"),
            "{remote} is not a manifest list of linux/amd64 and linux/arm64: {platforms:?}"
        );
        if name == "loci/keystone" {
            digests = platforms;
        }
    }

    // c. The arm64 wheels: aarch64 or pure Python, nothing for another machine.
    let wheels = wheel_names("linux/arm64", "loci/requirements:2026.1");
    assert!(wheels.len() > 90, "{} wheels", wheels.len());
    let foreign: Vec<&String> = wheels
        .iter()
        .filter(|w| !(w.ends_with("-any.whl") || w.contains("aarch64")))
        .collect();
    assert!(foreign.is_empty(), "not aarch64 or pure: {foreign:?}");
    assert!(
        wheels
            .iter()
            .any(|w| w.starts_with("uWSGI-") || w.starts_with("uwsgi-")),
        "no uwsgi wheel: {wheels:?}"
    );

    // d. Each platform's keystone, pulled back by digest and started, issues a token.
    let second = std::env::var("LOCI_E2E_SECOND_DOCKER_HOST").ok();
    let here = std::env::var("DOCKER_HOST").ok();
    if second.is_none() {
        for image in [
            "loci/keystone:2026.1".to_string(),
            format!("{reg}/loci/keystone:2026.1"),
        ] {
            check(docker().args(["image", "rm", &image]));
        }
    }
    for (platform, digest) in digests
        .iter()
        .filter(|(p, _)| p == "linux/amd64" || p == "linux/arm64")
    {
        let pinned = format!("{reg}/loci/keystone@{digest}");
        // The second engine is the one every docker command below talks to, under the lock.
        if let Some(h) = &second {
            std::env::set_var("DOCKER_HOST", h);
        }
        let local_before = image_exists(&pinned);
        check(docker().args(["pull", &pinned]));
        assert_eq!(
            stdout(docker().args([
                "image",
                "inspect",
                "--format",
                "{{.Os}}/{{.Architecture}}",
                &pinned
            ])),
            *platform
        );
        let size = image_bytes(&pinned);
        record(&format!(
            "E2E-IMAGE-SIZE keystone-{} {:.1}MB (pulled from the registry{})",
            platform.replace('/', "-"),
            size as f64 / 1e6,
            if second.is_some() {
                " by a second engine"
            } else {
                ""
            }
        ));
        assert!(
            !local_before,
            "{pinned} was already in the engine before the pull"
        );
        issue_a_token(&pinned, platform);
        // As light as the amd64 one, and it says what it was built for.
        let left = leftovers(&pinned);
        assert!(
            left.is_empty(),
            "keystone {platform} is not clean: {left:?}"
        );
        let arch = platform.trim_start_matches("linux/");
        let info: serde_json::Value =
            serde_json::from_str(&sh_in(&pinned, "cat /etc/image_info/image_info.json")).unwrap();
        assert_eq!(info["architecture"], arch, "{info}");
        let sbom = sh_in(&pinned, "cat /etc/image_info/sbom.cdx.json");
        assert!(
            sbom.contains(&format!("\"value\": \"{arch}\"")) && sbom.contains("loci:architecture"),
            "the SBOM does not name {arch}"
        );
        let inputs = sh_in(&pinned, "cat /etc/image_info/inputs.env");
        assert!(
            inputs.contains(&format!("# The platform: {platform} ")),
            "{inputs}"
        );
        let _ = docker().args(["image", "rm", &pinned]).output();
        match &here {
            Some(h) => std::env::set_var("DOCKER_HOST", h),
            None => std::env::remove_var("DOCKER_HOST"),
        }
    }

    // e. Two stages for arm64: `--target runtime`, the wheels from the local manifest list.
    let repos = tempfile::tempdir().unwrap();
    let (_repo, tag) = keystone_repo(repos.path());
    let daemon = git_daemon(repos.path());
    let ctx = Context::new();
    let image = "loci-test/keystone-runtime:arm64";
    let mut args = vec![
        "-f".to_string(),
        root().join("Dockerfile").display().to_string(),
        "--platform".into(),
        "linux/arm64".into(),
        "--target".into(),
        "runtime".into(),
        "-t".into(),
        image.into(),
    ];
    args.extend(build_args(&[
        ("FROM", "loci/base:debian"),
        ("LOCI_IMAGE", "loci/loci:local"),
        ("PROJECT", "keystone"),
        (
            "PROJECT_REPO",
            &format!("git://127.0.0.1:{}/keystone", daemon.port),
        ),
        ("PROJECT_REF", &tag),
        ("PROJECT_RELEASE", "2026.1"),
        ("WHEELS", "loci/requirements:2026.1"),
    ]));
    docker_build("keystone-runtime-arm64", &args, ctx.path());
    drop(daemon);
    assert_eq!(
        stdout(docker().args(["image", "inspect", "--format", "{{.Architecture}}", image])),
        "arm64"
    );
    record(&format!(
        "E2E-IMAGE-SIZE keystone-runtime-linux-arm64 {:.1}MB",
        image_bytes(image) as f64 / 1e6
    ));
    let left = leftovers(image);
    assert!(
        left.is_empty(),
        "the arm64 runtime image is not clean: {left:?}"
    );
    issue_a_token(image, "linux/arm64");
}

/// The platforms of an image index in the registry on 127.0.0.1:`port`, as
/// (`os/architecture`, manifest digest); attestation manifests (`unknown/unknown`) included.
fn index_platforms(port: u16, name: &str, tag: &str) -> Vec<(String, String)> {
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/v2/{name}/manifests/{tag}");
    let resp = client
        .get(&url)
        .header(
            "Accept",
            "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json",
        )
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
    let index: serde_json::Value = resp.json().unwrap();
    index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("{url} is not an index: {index}"))
        .iter()
        .map(|m| {
            (
                format!(
                    "{}/{}",
                    m["platform"]["os"].as_str().unwrap_or("?"),
                    m["platform"]["architecture"].as_str().unwrap_or("?")
                ),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The names of the wheels at / of `image`'s `platform` variant (`docker export`).
fn wheel_names(platform: &str, image: &str) -> Vec<String> {
    let id = stdout(docker().args(["create", "--platform", platform, image, "none"]));
    let mut child = docker()
        .args(["export", &id])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut archive = tar::Archive::new(child.stdout.take().unwrap());
    let mut names = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().to_string();
        let path = path.trim_start_matches("./");
        if !path.contains('/') && path.ends_with(".whl") {
            names.push(path.to_string());
        }
    }
    let _ = child.wait();
    let _ = docker().args(["rm", "-f", &id]).output();
    names
}

/// Starts keystone from `image` (its platform's binaries, under qemu for arm64) and asks for a
/// token; the bootstrap under emulation takes minutes, so its end is awaited first.
fn issue_a_token(image: &str, platform: &str) {
    let started = Instant::now();
    let ks = Keystone::start(image);
    let deadline = Instant::now() + Duration::from_secs(1800);
    while !ks.logs().contains("KEYSTONE-BOOTSTRAPPED") {
        let running =
            stdout(docker().args(["inspect", "--format", "{{.State.Running}}", &ks.name]));
        assert!(
            running == "true" && Instant::now() < deadline,
            "keystone ({platform}) did not bootstrap; logs:\n{}",
            ks.logs()
        );
        std::thread::sleep(Duration::from_secs(5));
    }
    let (status, token) = ks.issue_token();
    assert_eq!(
        status,
        201,
        "{platform}: POST /v3/auth/tokens answered {status}; logs:\n{}",
        ks.logs()
    );
    let token = token.expect("no X-Subject-Token header");
    assert!(token.len() > 20, "token {token:?}");
    record(&format!(
        "E2E-TOKEN keystone {platform} {image}: a token after {:.1}s",
        started.elapsed().as_secs_f64()
    ));
}
