//! End to end with the real static binary outside the Dockerfile:
//! - it is static and runs alone in a `FROM scratch` image;
//! - `loci build` for real inside a plain Debian bookworm container (the binary bind-mounted,
//!   keystone at a Gerrit-style ref from `git daemon`, WHEELS a loopback http URL of a tarball);
//! - its errors, through the real binary: non-zero exit and a clear message.
//!
//! Needs Docker: run with `sudo tests/run.sh` (a plain `cargo test` lists these as ignored).

#[path = "support/e2e.rs"]
mod e2e;

use std::fs;
use std::process::Command;

use e2e::*;

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn static_binary_runs_alone_in_a_scratch_image() {
    require_docker();
    let bin = loci_binary();
    let ldd = Command::new("ldd").arg(&bin).output().expect("ldd");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&ldd.stdout),
        String::from_utf8_lossy(&ldd.stderr)
    );
    assert!(
        text.contains("not a dynamic executable") || text.contains("statically linked"),
        "loci is not static: ldd says {text}"
    );
    let _guard = lock();
    let image = loci_image();
    let files = stdout(docker().args([
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        &image,
    ]));
    assert_eq!(
        files, "1",
        "the loci image should hold one layer (the binary)"
    );
    let version = stdout(docker().args(["run", "--rm", "--network", "none", &image, "--version"]));
    // The release and the target the binary was compiled for.
    assert_eq!(
        version,
        format!(
            "loci {} (x86_64-unknown-linux-gnu)",
            env!("CARGO_PKG_VERSION")
        )
    );
}

/// Runs the binary in `image` with `env` and returns (exit code, stdout + stderr).
fn loci_in(image: &str, env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let mut cmd = docker();
    cmd.args(["run", "--rm", "--network", "host"])
        .arg("-v")
        .arg(format!("{}:/mnt/loci:ro", loci_binary().display()));
    for (k, v) in env {
        cmd.arg("-e").arg(format!("{k}={v}"));
    }
    cmd.arg(image).arg("/mnt/loci").args(args);
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn assert_fails(image: &str, env: &[(&str, &str)], expected: &[&str]) {
    let (code, text) = loci_in(image, env, &["build"]);
    assert_ne!(code, 0, "loci build with {env:?} succeeded:\n{text}");
    for e in expected {
        assert!(
            text.contains(e),
            "loci build with {env:?}: the message lacks {e:?}:\n{text}"
        );
    }
    let tail: Vec<&str> = text.lines().rev().take(6).collect();
    eprintln!(
        "loci build {env:?} -> exit {code}: {}",
        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
    );
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn configuration_errors_fail_fast_with_clear_messages() {
    require_docker();
    let _guard = lock();
    let plain = slim_image();
    assert_fails(&plain, &[], &["PROJECT is not set"]);
    assert_fails(
        &plain,
        &[("PROJECT", "keystone"), ("DISTRO", "plan9")],
        &["plan9"],
    );
    assert_fails(
        &plain,
        &[("PROJECT", "keystone"), ("UID", "abc")],
        &["UID=abc", "not a valid numeric id"],
    );
    assert_fails(&plain, &[("PROJECT", "keystone"), ("GID", "0")], &["GID=0"]);
    assert_fails(
        &plain,
        &[("PROJECT", "keystone"), ("PLUGIN", "maybe")],
        &["PLUGIN=maybe", "not a boolean"],
    );
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn loci_build_in_a_plain_bookworm_container_at_a_gerrit_ref() {
    require_docker();
    let _guard = lock();
    let plain = slim_image();
    let base = base_image();

    // Wheels: the requirements image's files as a tarball, served over loopback http.
    let requirements = requirements_image();
    let www = tempfile::tempdir().unwrap();
    let wheels = export_wheels(&requirements, &www.path().join("wheels.tar.gz"));
    assert!(
        wheels > 20,
        "the requirements image holds only {wheels} wheels"
    );
    let http = http_server(www.path());
    let wheels_url = format!("http://127.0.0.1:{}/wheels.tar.gz", http.port);

    let repos = tempfile::tempdir().unwrap();
    let (repo, tag) = keystone_repo(repos.path());
    let change = rev_parse(&repo, GERRIT_REF);
    assert_ne!(change, rev_parse(&repo, &tag));
    let daemon = git_daemon(repos.path());
    let project_repo = format!("git://127.0.0.1:{}/keystone", daemon.port);

    // Errors that need a real source or wheels, on the base image (its packages are there, so
    // each fails within seconds of reaching its step).
    assert_fails(
        &base,
        &[
            ("PROJECT", "keystone"),
            ("WHEELS", "/nonexistent/wheels.tar.gz"),
        ],
        &["/nonexistent/wheels.tar.gz"],
    );
    let missing_ref = [
        ("PROJECT", "keystone"),
        ("PROJECT_REPO", project_repo.as_str()),
        ("PROJECT_REF", "no-such-branch"),
        ("WHEELS", wheels_url.as_str()),
    ];
    assert_fails(
        &base,
        &missing_ref,
        &["no-such-branch", project_repo.as_str()],
    );
    let closed = format!("git://127.0.0.1:{}/keystone", free_port());
    let unreachable = [
        ("PROJECT", "keystone"),
        ("PROJECT_REPO", closed.as_str()),
        ("WHEELS", wheels_url.as_str()),
    ];
    assert_fails(&base, &unreachable, &[closed.as_str()]);

    // The build, in a plain bookworm container: the base step installs python3 & co. The host's
    // CA bundle is trusted through SSL_CERT_FILE (HTTPS goes through a re-signing proxy here).
    let name = format!("loci-test-build-{}", std::process::id());
    let _ = docker().args(["rm", "-f", &name]).output();
    let started = std::time::Instant::now();
    let out = docker()
        .args(["run", "--name", &name, "--network", "host"])
        .arg("-v")
        .arg(format!("{}:/mnt/loci:ro", loci_binary().display()))
        .args([
            "-v",
            "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/host-ca.crt:ro",
        ])
        .args([
            "-e",
            "SSL_CERT_FILE=/etc/ssl/host-ca.crt",
            "-e",
            "PIP_CERT=/etc/ssl/host-ca.crt",
        ])
        .args(["-e", "PROJECT=keystone", "-e", "PROJECT_RELEASE=2026.1"])
        .arg("-e")
        .arg(format!("PROJECT_REPO={project_repo}"))
        .arg("-e")
        .arg(format!("PROJECT_REF={GERRIT_REF}"))
        .arg("-e")
        .arg(format!("WHEELS={wheels_url}"))
        .args([plain.as_str(), "/mnt/loci", "build"])
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    fs::write(work_dir().join("logs/loci-build-in-container.log"), &log).ok();
    record(&format!(
        "E2E-BUILD-TIME loci-build-in-container {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    assert!(
        out.status.success(),
        "loci build failed in the container:\n{log}"
    );
    drop(daemon);
    drop(http);

    let image = format!("loci-test/keystone-loci-build:{}", std::process::id());
    check(docker().args(["commit", &name, &image]));
    let _ = docker().args(["rm", "-f", &name]).output();

    let facts = sh_in(
        &image,
        r#"set -e
# Before anything runs Python (which would write bytecode).
find / -xdev \( -name '*.pyc' -o -name __pycache__ \) -print | head -5 | sed 's/^/LEFT bytecode: /'
export PYTHONDONTWRITEBYTECODE=1
/var/lib/openstack/bin/python -c 'import keystone, os; print("IMPORT", os.path.dirname(keystone.__file__))'
/var/lib/openstack/bin/keystone-manage --help >/dev/null && echo MANAGE-OK
getent passwd keystone
for f in packages.txt pip.txt project.txt image_info.json sbom.cdx.json; do
    test -s "/etc/image_info/$f" && echo "INFO $f"
done
cat /etc/image_info/project.txt
for c in git; do command -v "$c" && echo "LEFT: $c"; done
for p in /root/.cache/pip /tmp/wheels /tmp/keystone /tmp/upper-constraints.txt; do [ -e "$p" ] && echo "LEFT: $p"; done
ls -A /tmp | sed 's/^/LEFT in tmp: /'
find /var/lib/openstack -name .git -print | sed 's/^/LEFT git dir: /'
true"#,
    );
    let _ = docker().args(["rmi", &image]).output();
    assert!(
        facts.contains("IMPORT /var/lib/openstack/lib/python3"),
        "{facts}"
    );
    assert!(facts.contains("MANAGE-OK"), "{facts}");
    assert!(
        facts.contains("keystone:x:42424:42424:keystone user:/var/lib/keystone:/usr/sbin/nologin"),
        "{facts}"
    );
    for f in [
        "packages.txt",
        "pip.txt",
        "project.txt",
        "image_info.json",
        "sbom.cdx.json",
    ] {
        assert!(
            facts.contains(&format!("INFO {f}")),
            "/etc/image_info/{f} is missing or empty:\n{facts}"
        );
    }
    assert!(
        facts.contains(&change),
        "project.txt does not name the change {change}:\n{facts}"
    );
    assert!(
        facts.contains(GERRIT_REF),
        "project.txt does not name {GERRIT_REF}:\n{facts}"
    );
    assert!(!facts.contains("LEFT"), "leftovers in the image:\n{facts}");
}
