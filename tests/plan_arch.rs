//! Plans for another CPU architecture, through the binary: `loci plan --os-release FILE --arch
//! aarch64` is what an image for linux/arm64 is built with, on any host. What differs from
//! x86_64 is exactly the architecture's own: keystone's mod_oauth2 from the distro (OpenIDC
//! publishes amd64 .debs only), the requirements build's aarch64 exception (LOCI's); nova and
//! horizon plan the same steps and packages for both.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// `loci plan --json` for the distro fixture `distro`, the architecture `arch` (None: the
/// nominal x86_64 of `--os-release`) and the stage, with `env` as the build's arguments.
fn plan(distro: &str, arch: Option<&str>, stage: &str, env: &[(&str, &str)]) -> Value {
    let out = run(distro, arch, stage, env);
    assert!(
        out.status.success(),
        "loci plan {distro} {arch:?} {env:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run(
    distro: &str,
    arch: Option<&str>,
    stage: &str,
    env: &[(&str, &str)],
) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loci"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .args(["plan", "--json", "--stage", stage, "--os-release"])
        .arg(root.join("tests/fixtures/os-release").join(distro))
        .arg("--loci-dir")
        .arg(root);
    if let Some(a) = arch {
        cmd.args(["--arch", a]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn step<'a>(plan: &'a Value, name: &str) -> Option<&'a Value> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

fn packages(step: &Value) -> Vec<String> {
    step["packages"]
        .as_array()
        .map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn keystone_mod_oauth2_on_arm64_is_the_distros_package() {
    let env = [("PROJECT", "keystone"), ("PROFILES", "apache mod_oauth2")];
    for distro in ["debian-bookworm", "debian-trixie", "ubuntu-noble"] {
        for arch in ["aarch64", "arm64"] {
            let p = plan(distro, Some(arch), "project", &env);
            let project =
                step(&p, "project").unwrap_or_else(|| panic!("{distro}: no mod_oauth2 step"));
            assert_eq!(
                packages(project),
                ["apache2", "libapache2-mod-oauth2"],
                "{distro} {arch}: {project}"
            );
            let text = project.to_string();
            assert!(
                !text.contains(".deb"),
                "{distro}: nothing downloaded: {text}"
            );
            assert!(text.contains("a2enmod"), "{text}");
            assert!(text.contains("on arm64"), "the step says why: {text}");
            // The preflight looks the package up before anything changes.
            let preflight = step(&p, "preflight").unwrap().to_string();
            assert!(preflight.contains("libapache2-mod-oauth2"), "{preflight}");
        }
        // x86_64 (the nominal host and by name): OpenIDC's .debs, as LOCI.
        for arch in [None, Some("x86_64"), Some("amd64")] {
            let p = plan(distro, arch, "project", &env);
            let project = packages(step(&p, "project").unwrap());
            assert!(
                project
                    .iter()
                    .any(|d| d.ends_with("_amd64.deb") && d.contains("libapache2-mod-oauth2_")),
                "{distro} {arch:?}: {project:?}"
            );
        }
    }
    // .debs of one's own for arm64: `{arch}` becomes the Debian architecture.
    let own = [
        ("PROJECT", "keystone"),
        ("PROFILES", "mod_oauth2"),
        (
            "MOD_OAUTH2_URL",
            "http://127.0.0.1:8000/libapache2-mod-oauth2_3.4.0-1.{codename}_{arch}.deb",
        ),
        (
            "LIBOAUTH2_URL",
            "http://127.0.0.1:8000/liboauth2_1.6.3-1.{codename}_{arch}.deb",
        ),
    ];
    let p = plan("debian-bookworm", Some("aarch64"), "project", &own);
    assert_eq!(
        packages(step(&p, "project").unwrap()),
        [
            "apache2",
            "/tmp/loci-mod-oauth2/liboauth2_1.6.3-1.bookworm_arm64.deb",
            "/tmp/loci-mod-oauth2/libapache2-mod-oauth2_3.4.0-1.bookworm_arm64.deb"
        ]
    );
    // RPM distros: no step on either architecture, as in LOCI.
    for arch in [None, Some("aarch64")] {
        assert!(step(&plan("rocky-9", arch, "project", &env), "project").is_none());
    }
}

#[test]
fn the_aarch64_requirements_build_drops_confluent_kafka() {
    let env = [
        ("PROJECT", "requirements"),
        ("PROJECT_REF", "stable/2026.1"),
    ];
    for distro in ["debian-bookworm", "ubuntu-noble"] {
        let arm = step(
            &plan(distro, Some("aarch64"), "requirements", &env),
            "requirements",
        )
        .unwrap()
        .to_string();
        assert!(
            arm.contains("confluent-kafka") && arm.contains("aarch64"),
            "{arm}"
        );
        let x86 = step(&plan(distro, None, "requirements", &env), "requirements")
            .unwrap()
            .to_string();
        assert!(!x86.contains("confluent-kafka"), "{x86}");
    }
}

/// nova (consoles, the tss user, qemu/libvirt packages) and horizon (its panels) have nothing
/// architecture-specific: their aarch64 plans are their x86_64 plans, in every stage, on Debian
/// and on Ubuntu.
#[test]
fn nova_and_horizon_plan_the_same_for_aarch64() {
    for (project, profiles) in [
        (
            "nova",
            "fluent ceph linuxbridge openvswitch configdrive qemu apache migration tpm",
        ),
        ("horizon", "fluent apache"),
    ] {
        for distro in ["debian-bookworm", "ubuntu-noble"] {
            for stage in ["project", "builder", "runtime"] {
                let env = [("PROJECT", project), ("PROFILES", profiles)];
                let arm = plan(distro, Some("aarch64"), stage, &env);
                let x86 = plan(distro, None, stage, &env);
                assert!(
                    step(&arm, "project").is_some() || stage == "builder",
                    "{project} {distro} {stage}: {arm}"
                );
                assert_eq!(arm, x86, "{project} on {distro}, stage {stage}");
            }
        }
    }
}

#[test]
fn an_unknown_architecture_is_refused_with_a_hint() {
    let out = run(
        "debian-bookworm",
        Some("riscv64"),
        "project",
        &[("PROJECT", "keystone")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("riscv64") && err.contains("aarch64") && err.contains("x86_64"),
        "{err}"
    );
}
