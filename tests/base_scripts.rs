//! The base images' APT_MIRROR_HOST (LOCI master's): the functions of
//! `dockerfiles/{debian,ubuntu}/base.sh` run with `sh` against a stand-in for `/etc/apt`. The
//! mirror host's sources replace the image's for the build (trusted, http, then https), and the
//! image's own sources come back byte for byte at the end.

use std::path::Path;
use std::process::Command;

const BEGIN: &str = "# --- APT_MIRROR_HOST";
const END: &str = "# --- end APT_MIRROR_HOST";

/// The APT_MIRROR_HOST block of a base script, pointed at `apt` instead of /etc/apt, on a
/// machine whose `dpkg --print-architecture` says `arch`.
fn block_on(script: &str, apt: &Path, arch: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(script)).unwrap();
    let start = text
        .find(BEGIN)
        .unwrap_or_else(|| panic!("{script}: no {BEGIN}"));
    let end = text
        .find(END)
        .unwrap_or_else(|| panic!("{script}: no {END}"));
    assert!(
        text.contains("\nmirror_host_use http\n")
            && text.contains("\n    mirror_host_use https\n")
            && text.contains("\nmirror_host_revert\napt-get clean\n"),
        "{script}: the block is used (http, https, reverted before the cleanup)"
    );
    text[start..end]
        .replace("/etc/apt", &apt.display().to_string())
        .replace("$(dpkg --print-architecture)", arch)
}

/// Runs `body` after the block with `APT_MIRROR_HOST=host`; returns stdout.
fn run(script: &str, apt: &Path, host: &str, body: &str) -> String {
    run_on(script, apt, host, body, "amd64")
}

/// [`run`] on a machine of architecture `arch` (dpkg's name).
fn run_on(script: &str, apt: &Path, host: &str, body: &str, arch: &str) -> String {
    let full = format!(
        "set -eu\ncodename=testing\nAPT_MIRROR_HOST='{host}'\n{}\n{body}",
        block_on(script, apt, arch)
    );
    let out = Command::new("sh").arg("-c").arg(&full).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        full
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir(dir);
    v.sort();
    v
}

fn walkdir(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[test]
fn apt_mirror_host_is_used_for_the_build_and_reverted() {
    for (script, uri) in [
        ("dockerfiles/debian/base.sh", "://mirror.example/debian\n"),
        ("dockerfiles/ubuntu/base.sh", "://mirror.example/ubuntu/\n"),
    ] {
        let t = tempfile::tempdir().unwrap();
        let apt = t.path().join("apt");
        std::fs::create_dir_all(apt.join("sources.list.d")).unwrap();
        std::fs::write(
            apt.join("sources.list"),
            "deb http://deb.example/x testing main\n",
        )
        .unwrap();
        std::fs::write(
            apt.join("sources.list.d/distro.sources"),
            "Types: deb\nURIs: http://deb.example/y\n",
        )
        .unwrap();
        std::fs::write(
            apt.join("sources.list.d/ceph.list"),
            "deb http://ceph x main\n",
        )
        .unwrap();
        let before: Vec<(String, Vec<u8>)> = listing(&apt)
            .into_iter()
            .map(|f| (f.clone(), std::fs::read(&f).unwrap()))
            .collect();
        let sources = apt.join("sources.list.d/loci-mirror-host.sources");

        let out = run(
            script,
            &apt,
            "mirror.example",
            &format!(
                "mirror_host_use http\ncat '{s}'\necho ---\nmirror_host_use https\ncat '{s}'\necho ---\nls '{d}' '{d}/sources.list.d'",
                s = sources.display(),
                d = apt.display()
            ),
        );
        let parts: Vec<&str> = out.split("---\n").collect();
        assert!(
            parts[0].contains(&format!("URIs: http{uri}")),
            "{script}: {out}"
        );
        assert!(parts[0].contains("Trusted: yes"), "{script}: {out}");
        assert!(
            parts[0].contains("Suites: testing testing-updates"),
            "{script}: {out}"
        );
        assert!(
            parts[1].contains(&format!("URIs: https{uri}")),
            "{script}: {out}"
        );
        // Only the mirror host's sources are active; the image's wait aside, once (the https
        // switch does not put the mirror host's own file aside).
        let files = parts[2];
        for want in [
            "sources.list.loci-orig",
            "distro.sources.loci-orig",
            "ceph.list.loci-orig",
            "loci-mirror-host.sources",
        ] {
            assert!(files.contains(want), "{script}: {want} in {files}");
        }
        assert!(
            !files.contains("loci-mirror-host.sources.loci-orig"),
            "{script}: {files}"
        );

        run(
            script,
            &apt,
            "mirror.example",
            "mirror_host_use http\nmirror_host_use https\nmirror_host_revert",
        );
        let after: Vec<(String, Vec<u8>)> = listing(&apt)
            .into_iter()
            .map(|f| (f.clone(), std::fs::read(&f).unwrap()))
            .collect();
        assert_eq!(
            after, before,
            "{script}: the image's sources are back as they were"
        );

        // Without APT_MIRROR_HOST nothing is touched.
        run(
            script,
            &apt,
            "",
            "mirror_host_use http\nmirror_host_use https\nmirror_host_revert",
        );
        let untouched: Vec<(String, Vec<u8>)> = listing(&apt)
            .into_iter()
            .map(|f| (f.clone(), std::fs::read(&f).unwrap()))
            .collect();
        assert_eq!(untouched, before, "{script}");
    }
}

/// On arm64 the Ubuntu mirror host's path is ubuntu-ports (LOCI master's configure_apt_sources),
/// Debian's is the same for every architecture, and Ubuntu on an architecture LOCI has no path
/// for is refused, naming it.
#[test]
fn apt_mirror_host_is_ubuntu_ports_on_arm64() {
    for (script, arch, uri) in [
        (
            "dockerfiles/ubuntu/base.sh",
            "arm64",
            "URIs: http://mirror.example/ubuntu-ports/\n",
        ),
        (
            "dockerfiles/ubuntu/base.sh",
            "amd64",
            "URIs: http://mirror.example/ubuntu/\n",
        ),
        (
            "dockerfiles/debian/base.sh",
            "arm64",
            "URIs: http://mirror.example/debian\n",
        ),
    ] {
        let t = tempfile::tempdir().unwrap();
        let apt = t.path().join("apt");
        std::fs::create_dir_all(apt.join("sources.list.d")).unwrap();
        let sources = apt.join("sources.list.d/loci-mirror-host.sources");
        let out = run_on(
            script,
            &apt,
            "mirror.example",
            &format!("mirror_host_use http\ncat '{}'", sources.display()),
            arch,
        );
        assert!(out.contains(uri), "{script} on {arch}: {out}");
    }
    let t = tempfile::tempdir().unwrap();
    let apt = t.path().join("apt");
    std::fs::create_dir_all(apt.join("sources.list.d")).unwrap();
    let full = format!(
        "set -eu\ncodename=testing\nAPT_MIRROR_HOST=mirror.example\n{}\nmirror_host_use http",
        block_on("dockerfiles/ubuntu/base.sh", &apt, "riscv64")
    );
    let out = Command::new("sh").arg("-c").arg(&full).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("riscv64") && err.contains("arm64"), "{err}");
}
