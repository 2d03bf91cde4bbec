//! End to end: nova 2026.1 built with the project's Dockerfile on the Debian base image, its
//! source and both web consoles (noVNC, spice-html5) cloned from git repositories served by
//! `git daemon` on 127.0.0.1, its wheels from a requirements image restricted to nova's
//! dependency closure (tests/fixtures/nova/nova-2026.1-closure.txt). Then the image is
//! checked: consoles in place the way nova's proxies expect them (vnc_auto.html linked to
//! vnc_lite.html, no git metadata), the tss user with NOVA_TSS_* ids although the `tpm`
//! profile's swtpm packages would create one of their own, the nova user, the profiles' packages,
//! nova's console scripts and imports, and nova-novncproxy serving noVNC on 127.0.0.1.
//!
//! Both ways: the one-stage `project` target with the wheels as a tarball in the data dir, and
//! the two-stage `runtime` target with the requirements image (only in the local image store)
//! mounted by BuildKit; the runtime image holds no compiler, git or -dev package either.
//!
//! Needs Docker and the test machines' network (Debian archive, PyPI): run it with
//! `sudo tests/run.sh` (a plain `cargo test` lists it as ignored). With
//! LOCI_E2E_FULL_REQUIREMENTS=1 the full requirements image of the other tests is used.

#[path = "support/e2e.rs"]
mod e2e;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use e2e::*;

/// nova's 2026.1 release on PyPI.
const NOVA_SPEC: &str = "nova==33.*";
const NOVA_CLOSURE: &str = "tests/fixtures/nova/nova-2026.1-closure.txt";
const NOVNC_TAG: &str = "v1.5.0";
const SPICE_TAG: &str = "spice-html5-0.3.0";
const TSS_UID: &str = "42434";

/// The release's sdist from PyPI (cached in target/e2e/downloads/nova).
fn nova_sdist() -> PathBuf {
    pypi_sdist("nova", "nova-33.", NOVA_SPEC)
}

/// A git repository `nova` below `base` made from the sdist, tagged with the release.
fn nova_repo(base: &Path) -> String {
    let (_, version) = sdist_repo(base, "nova", &nova_sdist());
    version
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// noVNC as releases >= 1.0 lay it out (vnc.html, vnc_lite.html, no vnc_auto.html) and
/// spice-html5 (spice_auto.html), each with git files that must not reach the image.
fn console_repos(base: &Path) {
    let novnc = base.join("novnc");
    write(
        &novnc.join("vnc.html"),
        "<!DOCTYPE html><title>noVNC</title>\n",
    );
    write(
        &novnc.join("vnc_lite.html"),
        "<!DOCTYPE html><title>noVNC lite (loci e2e)</title><script type=\"module\" src=\"core/rfb.js\"></script>\n",
    );
    write(&novnc.join("core/rfb.js"), "export default class RFB {}\n");
    write(&novnc.join(".gitignore"), "node_modules\n");
    write(&novnc.join(".github/workflows/test.yml"), "name: test\n");
    let spice = base.join("spice-html5");
    write(
        &spice.join("spice_auto.html"),
        "<!DOCTYPE html><title>spice-html5 (loci e2e)</title>\n",
    );
    write(
        &spice.join("spicemain.js"),
        "export function SpiceMainConn() {}\n",
    );
    write(&spice.join(".gitignore"), "*.swp\n");
    for (repo, tag) in [(&novnc, NOVNC_TAG), (&spice, SPICE_TAG)] {
        git(repo, &["init", "-q", "-b", "master"]);
        git(repo, &["add", "-A"]);
        git(
            repo,
            &["commit", "-q", "-m", "console for the loci e2e tests"],
        );
        git(repo, &["tag", "-a", tag, "-m", tag]);
        // A later commit on master: the build must take the tag, not the branch.
        write(&repo.join("UNRELEASED"), "after the tag\n");
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", "after the release"]);
    }
}

/// The requirements image restricted to nova's closure (cached by a hash of its inputs), or
/// the suite's full requirements image with LOCI_E2E_FULL_REQUIREMENTS=1.
fn nova_requirements_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            if std::env::var("LOCI_E2E_FULL_REQUIREMENTS").is_ok_and(|v| v == "1") {
                return requirements_image();
            }
            let closure = read(root().join(NOVA_CLOSURE));
            build_requirements_image("requirements-nova", "nova-2026.1", Some(closure))
        })
        .clone()
}

/// Runs `sh -c script ARGS...` in `image` as `user` without network and returns stdout.
fn sh_as(image: &str, user: &str, script: &str, args: &[&str]) -> String {
    stdout(
        docker()
            .args([
                "run",
                "--rm",
                "--network",
                "none",
                "--user",
                user,
                "--entrypoint",
                "sh",
                image,
                "-c",
                script,
                "e2e",
            ])
            .args(args),
    )
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn nova_with_consoles_from_local_git_repositories() {
    require_docker();
    let _guard = lock();
    let base = base_image();
    let requirements = nova_requirements_image();

    let repos = tempfile::tempdir().unwrap();
    let version = nova_repo(repos.path());
    console_repos(repos.path());
    let daemon = git_daemon(repos.path());
    let git_url = |name: &str| format!("git://127.0.0.1:{}/{name}", daemon.port);

    let ctx = Context::new();
    let wheels = export_wheels(&requirements, &ctx.data().join("wheels.tar.gz"));
    assert!(wheels > 50, "the requirements image holds {wheels} wheels");
    let image = "loci-test/nova:2026.1";
    let (nova_repo_url, novnc_url, spice_url) =
        (git_url("nova"), git_url("novnc"), git_url("spice-html5"));
    // The same build arguments for both targets but WHEELS.
    let build = |name: &str, target: &str, wheels: &str, image: &str| {
        let mut args = ctx.args(
            &base,
            &[
                ("PROJECT", "nova"),
                ("PROJECT_REPO", &nova_repo_url),
                ("PROJECT_REF", &version),
                ("PROJECT_RELEASE", "2026.1"),
                ("WHEELS", wheels),
                ("KEEP_ALL_WHEELS", "True"),
                ("PROFILES", "qemu configdrive migration tpm"),
                ("NOVNC_REPO", &novnc_url),
                ("NOVNC_REF", NOVNC_TAG),
                ("SPICE_REPO", &spice_url),
                ("SPICE_REF", SPICE_TAG),
            ],
        );
        args.extend(["--target".into(), target.into(), "-t".into(), image.into()]);
        docker_build(name, &args, ctx.path());
    };
    build("nova", "project", "/tmp/wheels.tar.gz", image);
    check_nova(image, &version);

    // Two stages, the requirements image mounted by BuildKit from the local image store.
    let runtime = "loci-test/nova-runtime:2026.1";
    build("nova-runtime", "runtime", &requirements, runtime);
    drop(daemon);
    check_nova(runtime, &version);
    let left = leftovers(runtime);
    assert!(
        left.is_empty(),
        "{runtime} is not clean:\n{}",
        left.join("\n")
    );
}

/// What a nova image must hold and do (both targets).
fn check_nova(image: &str, version: &str) {
    // The consoles, as nova's proxies look for them.
    let consoles = sh_in(
        image,
        r#"set -e
readlink /usr/share/novnc/vnc_auto.html
cat /usr/share/novnc/vnc_auto.html
cat /usr/share/spice-html5/spice_auto.html
ls -A /usr/share/novnc /usr/share/spice-html5"#,
    );
    let mut lines = consoles.lines();
    assert_eq!(lines.next(), Some("vnc_lite.html"), "{consoles}");
    assert!(consoles.contains("noVNC lite (loci e2e)"), "{consoles}");
    assert!(consoles.contains("spice-html5 (loci e2e)"), "{consoles}");
    for leftover in [".git", ".github", ".gitignore", "UNRELEASED"] {
        assert!(
            !consoles.lines().any(|l| l == leftover),
            "{leftover} in the consoles:\n{consoles}"
        );
    }

    // Users: tss for swtpm (no login), nova with a shell for migrations.
    let users = sh_in(image, "getent passwd tss nova; getent group tss");
    assert!(
        users.contains(&format!("tss:x:{TSS_UID}:{TSS_UID}:tss user:")),
        "{users}"
    );
    assert!(users.contains("/usr/sbin/nologin"), "{users}");
    assert!(
        users.contains("nova:x:42424:42424:nova user:/var/lib/nova:/bin/bash"),
        "{users}"
    );
    assert!(users.contains(&format!("tss:x:{TSS_UID}:")), "{users}");

    // The profiles' packages are installed, the build-only ones are gone.
    let packages = sh_in(
        image,
        "dpkg-query -W -f '${Package} ${db:Status-Status}\\n' libvirt0 iproute2 libosinfo-bin qemu-utils genisoimage openssh-client swtpm git 2>/dev/null || true",
    );
    for p in [
        "swtpm",
        "libvirt0",
        "iproute2",
        "libosinfo-bin",
        "qemu-utils",
        "genisoimage",
        "openssh-client",
    ] {
        assert!(
            packages.contains(&format!("{p} installed")),
            "{p} is not installed:\n{packages}"
        );
    }
    assert!(
        !packages.contains("git installed"),
        "git was not purged:\n{packages}"
    );

    // nova runs as its user: console scripts, imports (libvirt from pydep's libvirt-python).
    let out = sh_as(
        image,
        "nova",
        r#"set -e
nova-conductor --help >/dev/null
nova-compute --help >/dev/null
nova-manage --version
python3 -c 'import nova, libvirt, websockify; print("imports ok")'"#,
        &[],
    );
    assert!(
        out.contains(version),
        "nova-manage --version does not say {version}: {out}"
    );
    assert!(out.contains("imports ok"), "{out}");

    // nova-novncproxy serves the console page from /usr/share/novnc on 127.0.0.1.
    serve_novnc(image);
    report_image(image);
}

fn serve_novnc(image: &str) {
    let conf = tempfile::tempdir().unwrap();
    let port = free_port();
    fs::write(
        conf.path().join("nova.conf"),
        format!("[DEFAULT]\nuse_stderr = true\n\n[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = {port}\n"),
    )
    .unwrap();
    set_mode(conf.path(), 0o755);
    set_mode(&conf.path().join("nova.conf"), 0o644);
    let name = format!("loci-test-novncproxy-{}-{port}", std::process::id());
    check(
        docker()
            .args([
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                "host",
                "--user",
                "nova",
            ])
            .arg("-v")
            .arg(format!(
                "{}:/etc/nova/nova.conf:ro",
                conf.path().join("nova.conf").display()
            ))
            .args([
                image,
                "nova-novncproxy",
                "--config-file",
                "/etc/nova/nova.conf",
            ]),
    );
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = docker().args(["rm", "-f", &self.0]).output();
        }
    }
    let _remove = Remove(name.clone());
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/vnc_auto.html");
    let deadline = Instant::now() + Duration::from_secs(90);
    let logs = || {
        let out = docker().args(["logs", &name]).output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    loop {
        match client.get(&url).send() {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.text().unwrap_or_default();
                assert_eq!(
                    status,
                    200,
                    "GET {url} answered {status}: {body}\n{}",
                    logs()
                );
                assert!(body.contains("noVNC lite (loci e2e)"), "{body}");
                println!("nova-novncproxy served {url}");
                return;
            }
            Err(e) => {
                let running =
                    stdout(docker().args(["inspect", "--format", "{{.State.Running}}", &name]));
                if running != "true" || Instant::now() > deadline {
                    panic!(
                        "nova-novncproxy did not answer on {url} ({e}); logs:\n{}",
                        logs()
                    );
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

fn report_image(image: &str) {
    let size = stdout(docker().args(["image", "inspect", "--format", "{{.Size}}", image]));
    let bytes: u64 = size.parse().unwrap_or(0);
    record(&format!(
        "E2E-IMAGE-SIZE {image} {bytes} bytes ({:.1} MB)",
        bytes as f64 / 1e6
    ));
}
