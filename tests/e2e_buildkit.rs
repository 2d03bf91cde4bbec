//! End to end, BuildKit-native builds with the project's Dockerfile on the current engine:
//!
//! - the two-stage `runtime` target for keystone, with WHEELS a requirements image that BuildKit
//!   pulls from a registry on 127.0.0.1 and mounts; and LOCI master's keystone job at the
//!   default target with no WHEELS at all (PyPI, compiled in the builder stage, against
//!   UPPER_CONSTRAINTS served on 127.0.0.1): both issue tokens, neither holds a compiler, git,
//!   -dev packages or a pip cache;
//! - the wheels image given as a named context (`docker buildx build --build-context
//!   wheels=docker-image://IMAGE`) instead of a pullable WHEELS;
//! - WHEELS as an http(s) URL of a tarball, fetched by loci, with the same Dockerfile;
//! - bad input stops the build before any package is installed, naming the argument;
//! - keystone on a second Debian release, trixie (Python 3.13), from PyPI.
//!
//! Needs Docker 26+ with buildx and the network of the test machines: run it with
//! `sudo tests/run.sh` (a plain `cargo test` lists it as ignored).

#[path = "support/e2e.rs"]
mod e2e;

use std::fs;

use e2e::*;

/// keystone's source as a git repository served on 127.0.0.1, and the build context.
struct KeystoneSource {
    _repos: tempfile::TempDir,
    daemon: Server,
    tag: String,
    commit: String,
}

fn keystone_source() -> KeystoneSource {
    let repos = tempfile::tempdir().unwrap();
    let (repo, tag) = keystone_repo(repos.path());
    let commit = rev_parse(&repo, &tag);
    let daemon = git_daemon(repos.path());
    KeystoneSource {
        _repos: repos,
        daemon,
        tag,
        commit,
    }
}

impl KeystoneSource {
    fn repo(&self) -> String {
        format!("git://127.0.0.1:{}/keystone", self.daemon.port)
    }
}

/// Builds `target` of keystone with `wheels` (and more build args) and returns the image.
fn build_keystone(name: &str, target: &str, extra: &[(&str, &str)], ctx: &Context) -> String {
    build_keystone_on(&base_image(), name, target, extra, ctx)
}

/// [`build_keystone`] FROM `base`.
fn build_keystone_on(
    base: &str,
    name: &str,
    target: &str,
    extra: &[(&str, &str)],
    ctx: &Context,
) -> String {
    let src = keystone_source();
    let image = format!("loci-test/{name}:2026.1");
    let repo = src.repo();
    let mut pairs = vec![
        ("PROJECT", "keystone"),
        ("PROJECT_REPO", repo.as_str()),
        ("PROJECT_REF", src.tag.as_str()),
        ("PROJECT_RELEASE", "2026.1"),
    ];
    pairs.extend_from_slice(extra);
    let mut args = ctx.args(base, &pairs);
    // An empty target: none given, the Dockerfile's default (`project`).
    if !target.is_empty() {
        args.extend(["--target".into(), target.into()]);
    }
    args.extend(["-t".into(), image.clone()]);
    let took = docker_build(name, &args, ctx.path());
    record(&format!(
        "E2E-KEYSTONE {name}: built in {:.1}s",
        took.as_secs_f64()
    ));
    let project_txt = sh_in(&image, "cat /etc/image_info/project.txt");
    assert!(
        project_txt.contains(&src.commit),
        "project.txt of {image} does not name {}:\n{project_txt}",
        src.commit
    );
    image
}

fn report_size(image: &str) {
    let bytes = image_bytes(image);
    record(&format!(
        "E2E-IMAGE-SIZE {image} {bytes} bytes ({:.1} MB)",
        bytes as f64 / 1e6
    ));
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn keystone_two_stage_with_wheels_pulled_by_buildkit_from_a_registry() {
    require_docker();
    let _guard = lock();
    let requirements = requirements_image();
    let registry = registry();
    let wheels = format!("127.0.0.1:{}/loci/requirements:2026.1", registry.port);
    check(docker().args(["tag", &requirements, &wheels]));
    check(docker().args(["push", &wheels]));
    // Only in the registry now: BuildKit pulls it for the `wheels` stage.
    let _ = docker().args(["rmi", &wheels]).output();
    let ctx = Context::new();
    let image = build_keystone(
        "keystone-runtime",
        "runtime",
        &[("WHEELS", &wheels), ("KEEP_ALL_WHEELS", "True")],
        &ctx,
    );
    let info = sh_in(&image, "cat /etc/image_info/image_info.json");
    assert!(
        info.contains("\"mounted\""),
        "the wheels were not mounted:\n{info}"
    );
    assert_issues_tokens(&image);
    assert_clean(&image);
    // The runtime stage ran as one stage over the builder's venv: the layer list shows the
    // venv copied in, and the service user exists.
    let user = sh_in(&image, "getent passwd keystone");
    assert!(user.starts_with("keystone:x:42424:42424:"), "{user}");
    report_size(&image);
}

/// LOCI master's keystone job as it is (PROFILES with the release in it, PIP_PACKAGES,
/// KEEP_ALL_WHEELS=yes, APT_MIRROR), on Debian bookworm, at the default target and with no
/// WHEELS at all: `docker build --build-arg PROJECT=keystone .` plus only what this machine
/// cannot reach at its default (FROM, the source, UPPER_CONSTRAINTS as a URL on 127.0.0.1).
/// The default target builds it from PyPI in two stages: a keystone that issues a token, with
/// no compiler, -dev package, git or pip cache.
#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn keystone_at_the_default_target_without_wheels_from_pypi() {
    require_docker();
    let _guard = lock();
    let ctx = Context::new();
    let (_http, upper) = served_upper_constraints();
    let image = build_keystone(
        "keystone-default-target",
        "",
        &[
            ("UPPER_CONSTRAINTS", &upper),
            // LOCI master's keystone job (playbooks/vars.yaml), its release 2026.1's.
            ("PROFILES", "fluent apache ldap stable/2026.1"),
            ("PIP_PACKAGES", "python-openstackclient"),
            ("KEEP_ALL_WHEELS", "yes"),
            (
                "APT_MIRROR",
                "[trusted=yes] https://archive.ubuntu.com/ubuntu",
            ),
        ],
        &ctx,
    );
    let log = fs::read_to_string(work_dir().join("logs/keystone-default-target.log")).unwrap();
    for want in [
        "ignored: PROFILES=\"stable/2026.1\"",
        "ignored: APT_MIRROR=\"[trusted=yes] https://archive.ubuntu.com/ubuntu\"",
        "stage runtime",
    ] {
        assert!(log.contains(want), "the build log says no {want:?}");
    }
    // The profiles that mean something did: ldap's library, the openstack client.
    let out = sh_in(
        &image,
        "dpkg-query -W -f '${Status}' libldap-2.5-0; echo; /var/lib/openstack/bin/openstack --version",
    );
    assert!(out.starts_with("install ok installed\nopenstack "), "{out}");
    // uwsgi has no wheel on PyPI: the builder compiled it, the runtime got only its libraries.
    let libs = sh_in(&image, "cat /etc/image_info/venv-libraries.txt");
    record(&format!(
        "keystone from PyPI: venv libraries from packages: {}",
        libs.split_whitespace().collect::<Vec<_>>().join(" ")
    ));
    // Every package the runtime stage asked for (the profiles' and the venv's libraries') is
    // marked as installed on purpose, as LOCI's `apt-get install` marks it, those the base held
    // as a dependency only (python3's libssl3) too: no autoremove, the cleanup's or a child
    // image's, can take them.
    let asked: Vec<&str> = libs
        .split_whitespace()
        .chain(["apache2", "libapache2-mod-wsgi-py3", "libldap-2.5-0"])
        .collect();
    let auto_in_base = sh_in(&base_image(), "apt-mark showauto");
    let was_auto: Vec<&str> = asked
        .iter()
        .copied()
        .filter(|p| {
            auto_in_base
                .lines()
                .any(|l| l.split(':').next() == Some(*p))
        })
        .collect();
    assert!(
        !was_auto.is_empty(),
        "none of {asked:?} is a dependency only in the base: this check would prove nothing"
    );
    let manual = sh_in(&image, "apt-mark showmanual");
    for p in &asked {
        assert!(
            manual.lines().any(|l| l.split(':').next() == Some(*p)),
            "{image}: {p} was asked for but is not marked as installed on purpose (in the base \
             as dependencies only: {was_auto:?})"
        );
    }
    let inputs = sh_in(&image, "cat /etc/image_info/inputs.env");
    assert!(
        inputs.contains(&format!("UPPER_CONSTRAINTS={upper}")),
        "{inputs}"
    );
    assert_issues_tokens(&image);
    // The apache profile's apache2 depends on perl: it stays for that, and only for that.
    assert_clean(&image);
    report_size(&image);
}

/// A second distro release: Debian trixie (Python 3.13), its base built from
/// dockerfiles/debian on a trixie debootstrap, keystone two-stage from PyPI (the bookworm
/// requirements image holds Python 3.11 wheels).
#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn keystone_on_debian_trixie_from_pypi() {
    require_docker();
    let _guard = lock();
    let base = trixie_base_image();
    let ctx = Context::new();
    fs::copy(
        root()
            .join(REQUIREMENTS_FIXTURES)
            .join("upper-constraints.txt"),
        ctx.data().join("upper-constraints.txt"),
    )
    .unwrap();
    let image = build_keystone_on(
        &base,
        "keystone-trixie",
        "runtime",
        &[
            ("WHEELS", ""),
            ("UPPER_CONSTRAINTS", "/tmp/upper-constraints.txt"),
        ],
        &ctx,
    );
    let release = sh_in(
        &image,
        ". /etc/os-release; echo $VERSION_CODENAME; python3 -c 'import sys; print(sys.version_info[:2])'",
    );
    assert_eq!(release, "trixie\n(3, 13)", "{image}");
    let info = sh_in(&image, "cat /etc/image_info/image_info.json");
    assert!(info.contains("debian-trixie"), "{info}");
    assert_issues_tokens(&image);
    assert_clean(&image);
    report_size(&image);
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn the_wheels_image_can_be_a_named_build_context() {
    require_docker();
    let _guard = lock();
    let requirements = requirements_image();
    let src = keystone_source();
    let ctx = Context::new();
    let image = "loci-test/keystone-named-context:2026.1";
    let repo = src.repo();
    // WHEELS names no image anywhere: the named context replaces the `wheels` stage.
    let mut args = ctx.args(
        &base_image(),
        &[
            ("PROJECT", "keystone"),
            ("PROJECT_REPO", &repo),
            ("PROJECT_REF", &src.tag),
            ("PROJECT_RELEASE", "2026.1"),
            ("WHEELS", "loci-test/not-an-image:anywhere"),
            ("KEEP_ALL_WHEELS", "True"),
        ],
    );
    args.extend([
        "--build-context".into(),
        format!("wheels=docker-image://{requirements}"),
        "--target".into(),
        "project".into(),
        "-t".into(),
        image.into(),
    ]);
    let mut cmd = docker();
    cmd.args([
        "buildx",
        "build",
        "--load",
        "--network",
        "host",
        "--progress",
        "plain",
    ])
    .args(&args)
    .arg(ctx.path());
    let out = cmd.output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    fs::write(work_dir().join("logs/keystone-named-context.log"), &log).unwrap();
    assert!(
        out.status.success(),
        "docker buildx build with a named context failed:\n{log}"
    );
    let version = sh_in(
        image,
        "keystone-manage --version 2>&1; python3 -c 'import keystone; print(\"import ok\")'",
    );
    assert!(version.contains("import ok"), "{version}");
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn wheels_from_a_url_are_fetched_by_loci_with_the_same_dockerfile() {
    require_docker();
    let _guard = lock();
    let requirements = requirements_image();
    let served = tempfile::tempdir().unwrap();
    let n = export_wheels(&requirements, &served.path().join("wheels.tar.gz"));
    assert!(n > 50, "{n} wheels");
    let http = http_server(served.path());
    let url = format!("http://127.0.0.1:{}/wheels.tar.gz", http.port);
    let ctx = Context::new();
    let image = build_keystone(
        "keystone-wheels-url",
        "project",
        &[("WHEELS", &url), ("KEEP_ALL_WHEELS", "True")],
        &ctx,
    );
    let info = sh_in(&image, "cat /etc/image_info/image_info.json");
    assert!(info.contains(&format!("\"location\": \"{url}\"")), "{info}");
    let out = sh_in(&image, "python3 -c 'import keystone; print(\"import ok\")'");
    assert_eq!(out, "import ok");
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn bad_wheels_and_targets_stop_the_build_before_any_package() {
    require_docker();
    let _guard = lock();
    let base = base_image();
    let ctx = Context::new();
    let fail = |name: &str, target: &str, pairs: &[(&str, &str)]| -> String {
        let mut args = ctx.args(&base, pairs);
        args.extend(["--target".into(), target.into(), "--no-cache".into()]);
        docker_build_fails(name, &args, ctx.path())
    };
    let untouched = |log: &str| {
        assert!(
            !log.contains("+ apt-get") && !log.contains("+ python3 -m venv"),
            "something was installed before the error:\n{log}"
        );
    };

    // An image that exists nowhere: BuildKit cannot resolve the `wheels` stage, and the lines
    // it shows around the failing FROM explain WHEELS.
    let log = fail(
        "bad-wheels-missing",
        "project",
        &[
            ("PROJECT", "keystone"),
            ("WHEELS", "loci-test/no-such-requirements:never"),
        ],
    );
    assert!(
        log.contains("loci-test/no-such-requirements:never"),
        "{log}"
    );
    assert!(
        log.contains("WHEELS names an image the engine cannot find"),
        "{log}"
    );
    untouched(&log);

    // An image that is not a requirements image (the base: no upper-constraints.txt).
    let log = fail(
        "bad-wheels-not-requirements",
        "runtime",
        &[("PROJECT", "keystone"), ("WHEELS", &base)],
    );
    assert!(
        log.contains(&format!("WHEELS={base} is not a requirements image")),
        "{log}"
    );
    assert!(log.contains("--target requirements"), "{log}");
    untouched(&log);

    // A target without its argument.
    let log = fail("bad-target-no-project", "runtime", &[("WHEELS", "")]);
    assert!(log.contains("PROJECT is not set"), "{log}");
    untouched(&log);
    let log = fail(
        "bad-target-requirements",
        "requirements",
        &[("PROJECT", "keystone")],
    );
    assert!(
        log.contains("the requirements target builds PROJECT=requirements, not PROJECT=keystone"),
        "{log}"
    );
    untouched(&log);
}

/// compose.yaml and docker-bake.hcl, as the engine reads them: every service image takes the
/// requirements image through the `wheels` named context (compose: the image; bake: the
/// `requirements` target of the same run, and the base as the `base` target).
#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn compose_and_bake_give_every_service_the_wheels_context() {
    require_docker();
    // LOCI master's 30 images, by LOCI's image names.
    let services = [
        "barbican",
        "blazar",
        "ceilometer",
        "cinder",
        "cloudkitty",
        "cyborg",
        "designate",
        "freezer",
        "freezer-api",
        "glance",
        "heat",
        "horizon",
        "ironic",
        "keystone",
        "magnum",
        "manila",
        "masakari",
        "masakari-monitors",
        "mistral",
        "neutron",
        "nova",
        "octavia",
        "openstack-client",
        "placement",
        "skyline",
        "swift",
        "tacker",
        "trove",
        "watcher",
        "zaqar",
    ];
    let compose: serde_json::Value =
        serde_json::from_str(&stdout(docker().current_dir(root()).args([
            "compose",
            "-f",
            "compose.yaml",
            "config",
            "--format",
            "json",
        ])))
        .unwrap();
    for s in services {
        let build = &compose["services"][s]["build"];
        assert_eq!(
            build["additional_contexts"]["wheels"], "docker-image://loci-gate/requirements:2026.1",
            "compose service {s}: {build}"
        );
        assert_eq!(build["target"], "project", "compose service {s}: {build}");
        assert_eq!(build["network"], "host", "compose service {s}: {build}");
    }
    assert_eq!(
        compose["services"]["requirements"]["build"]["target"],
        "requirements"
    );
    assert_eq!(
        compose["services"]["base"]["build"]["dockerfile"],
        "Dockerfile.base"
    );
    let bake: serde_json::Value = serde_json::from_str(&stdout(
        docker()
            .current_dir(root())
            .env("LOCI_REGISTRY", "registry.example/")
            .args([
                "buildx",
                "bake",
                "-f",
                "compose.yaml",
                "-f",
                "docker-bake.hcl",
                "--print",
            ]),
    ))
    .unwrap();
    for s in services {
        let t = &bake["target"][s];
        assert_eq!(
            t["contexts"]["wheels"], "target:requirements",
            "bake target {s}: {t}"
        );
        assert_eq!(
            t["contexts"]["loci-gate/base:debian"], "target:base",
            "bake target {s}: {t}"
        );
        assert_eq!(
            t["tags"][0],
            format!("registry.example/loci-gate/{s}:2026.1"),
            "bake target {s}: {t}"
        );
    }
}
