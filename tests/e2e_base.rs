//! The Debian base image, built both ways (the root's Dockerfile.base as LOCI master builds it,
//! and dockerfiles/debian alone) on a debootstrap rootfs with the host's CA bundle as an extra
//! trusted certificate: what every service build needs is there, the extra
//! CA is trusted by Python's TLS (HTTPS to PyPI goes through a re-signing proxy on the test
//! machines), and no apt lists or caches are left. A requirements build on that base gets git
//! when a `git+` constraint needs it (git no longer comes with `base` there).
//!
//! Needs Docker: run with `sudo tests/run.sh` (a plain `cargo test` lists it as ignored).

#[path = "support/e2e.rs"]
mod e2e;

use e2e::*;
use std::fs;

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn debian_base_has_the_service_basics_and_trusts_the_extra_ca() {
    require_docker();
    let _guard = lock();
    check_base(&base_image());
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn the_distro_directory_builds_the_same_base() {
    require_docker();
    let _guard = lock();
    let from_dir = base_image_from_distro_dir();
    check_base(&from_dir);
    let packages = |image: &str| sh_in(image, "dpkg-query -W -f '${Package}\\n' | sort");
    assert_eq!(
        packages(&from_dir),
        packages(&base_image()),
        "dockerfiles/debian and Dockerfile.base install different packages"
    );
}

fn check_base(base: &str) {
    let facts = sh_in(
        base,
        r#"set -e
for p in python3 python3-venv ca-certificates netbase sudo lsb-release; do
    dpkg-query -W -f '${Status}' "$p" | grep -q 'install ok installed' && echo "PKG $p"
done
v=$(python3 -c 'import sys; print(sys.version_info.minor)')
dpkg-query -W -f '${Status}' "libpython3.$v" | grep -q 'install ok installed' && echo "PKG libpython3"
python3 -m venv /tmp/v && echo VENV-OK
echo "LANG=$LANG SSL_CERT_FILE=$SSL_CERT_FILE PIP_CERT=$PIP_CERT REQUESTS_CA_BUNDLE=$REQUESTS_CA_BUNDLE"
ls /usr/local/share/ca-certificates/loci/
ls -A /var/lib/apt/lists | grep -v -x -e lock -e partial -e auxfiles | sed 's/^/LEFT list: /'
ls -A /var/cache/apt/archives | grep '\.deb$' | sed 's/^/LEFT deb: /'
command -v git && echo "LEFT: git (build-only, installed by loci in the service RUN)"
true"#,
    );
    for p in [
        "python3",
        "python3-venv",
        "ca-certificates",
        "netbase",
        "sudo",
        "lsb-release",
        "libpython3",
    ] {
        assert!(
            facts.contains(&format!("PKG {p}\n")),
            "{p} is not installed in the base:\n{facts}"
        );
    }
    assert!(facts.contains("VENV-OK"), "{facts}");
    let bundle = "/etc/ssl/certs/ca-certificates.crt";
    assert!(
        facts.contains(&format!(
            "LANG=C.UTF-8 SSL_CERT_FILE={bundle} PIP_CERT={bundle} REQUESTS_CA_BUNDLE={bundle}"
        )),
        "{facts}"
    );
    if !host_ca_bundle().is_empty() {
        assert!(
            facts.contains("host-ca.crt"),
            "the extra CA from certs/ is not installed:\n{facts}"
        );
        // The extra CA is in the bundle every TLS client of the image uses.
        let ok = stdout(docker().args([
            "run", "--rm", "--network", "host", base, "python3", "-c",
            "import urllib.request; print(urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=60).status)",
        ]));
        assert_eq!(ok, "200");
    }
    assert!(
        !facts.contains("LEFT"),
        "apt leftovers in the base:\n{facts}"
    );
    let size: u64 = stdout(docker().args(["image", "inspect", "--format", "{{.Size}}", base]))
        .parse()
        .unwrap();
    record(&format!(
        "E2E-IMAGE-SIZE {base} {size} bytes ({:.1} MB)",
        size as f64 / 1e6
    ));
}

/// git in a requirements build comes with the build packages, installed only when something is
/// built: a `git+` constraint (pip clones it) on the suite's base, which has no git, is built,
/// pinned, and git was installed for it. (The other way, a rebuild that builds nothing installs
/// no git: bench/gate-speed.sh's c2.)
#[test]
#[ignore = "needs docker and PyPI: run tests/run.sh"]
fn a_git_constraint_gets_git_in_a_requirements_build() {
    require_docker();
    let _guard = lock();
    let base = base_image();
    assert_eq!(
        sh_in(&base, "command -v git || echo none"),
        "none",
        "the suite's base has git: this test would prove nothing"
    );
    let repos = tempfile::tempdir().unwrap();
    let daemon = git_daemon(repos.path());
    python_project(&repos.path().join("gitprobe"), "loci-gitprobe", "0.3.1");
    git_repo(&repos.path().join("gitprobe"), &[]);
    let upper = format!(
        "six===1.17.0\ngit+git://127.0.0.1:{}/gitprobe#egg=loci-gitprobe\n",
        daemon.port
    );
    git_repo(
        &repos.path().join("requirements"),
        &[
            ("upper-constraints.txt", &upper),
            ("global-requirements.txt", "six\n"),
        ],
    );
    let ctx = Context::new();
    let repo = format!("git://127.0.0.1:{}/requirements", daemon.port);
    let tag = "loci-test/requirements-gitprobe:latest";
    let mut args = ctx.args(
        &base,
        &[
            ("PROJECT", "requirements"),
            ("PROJECT_REPO", &repo),
            ("PROJECT_REF", "master"),
            ("REQUIREMENTS_ONLY", "six"),
            ("KEEP_ALL_WHEELS", "True"),
        ],
    );
    args.extend(["--no-cache".into(), "-t".into(), tag.into()]);
    docker_build("requirements-gitprobe", &args, ctx.path());
    drop(daemon);
    let log = fs::read_to_string(work_dir().join("logs/requirements-gitprobe.log")).unwrap();
    let base_step = log
        .lines()
        .find(|l| l.contains("] base: "))
        .unwrap_or_else(|| panic!("no base step in the log:\n{log}"));
    assert!(
        !base_step.contains("git"),
        "git planned in base: {base_step}"
    );
    assert!(
        log.contains("1 source builds"),
        "the git+ constraint was not built from source: {}",
        work_dir().join("logs/requirements-gitprobe.log").display()
    );
    // The image holds the wheels alone (no shell): its files through export_wheels' archive.
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("wheels.tar.gz");
    export_wheels(tag, &archive);
    let mut files = Vec::new();
    let mut upper = String::new();
    let gz = flate2::read::GzDecoder::new(fs::File::open(&archive).unwrap());
    for entry in tar::Archive::new(gz).entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if name == "upper-constraints.txt" {
            std::io::Read::read_to_string(&mut entry, &mut upper).unwrap();
        }
        files.push(name);
    }
    assert!(
        files.contains(&"loci_gitprobe-0.3.1-py3-none-any.whl".to_string())
            && files.contains(&"six-1.17.0-py2.py3-none-any.whl".to_string()),
        "{files:?}"
    );
    assert!(
        upper
            .lines()
            .any(|l| l.replace('_', "-") == "loci-gitprobe===0.3.1")
            && !upper.contains("git+"),
        "the git+ entry is not pinned to what was built:\n{upper}"
    );
    check(docker().args(["image", "rm", tag]));
}
