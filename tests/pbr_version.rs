//! The version pbr gives a project cloned by loci (libgit2, the `source` step's `clone`) is the
//! version it gives the same project cloned LOCI master's way (`git clone REPO; git fetch REPO
//! REF; git checkout FETCH_HEAD`), for a tag, a branch after the tag and a Gerrit change ref:
//! the version a build records (pip freeze, METADATA) comes from pbr reading the clone with git
//! present, so the clone must hold what pbr reads (the tags, the history since the last one).
//!
//! The real pbr (upper-constraints 2026.1's) is installed from PyPI into a venv under the test
//! target's temp dir on the first run; the real git makes the repository and LOCI's clone.
//! Needing PyPI, the test is marked ignored (`tests/run.sh` runs it): without python3, its venv
//! module, git or PyPI it fails and says what is missing.

#[path = "support/pyvenv.rs"]
mod pyvenv;

use std::path::{Path, PathBuf};
use std::process::Command;

const PBR: &str = "pbr==7.0.3";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "loci")
        .env("GIT_AUTHOR_EMAIL", "loci@localhost")
        .env("GIT_COMMITTER_NAME", "loci")
        .env("GIT_COMMITTER_EMAIL", "loci@localhost")
        .output()
        .unwrap_or_else(|e| panic!("git {args:?}: {e} (install git)"));
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What pbr says the version of the project in `tree` is, with git present (as in a build).
fn pbr_version(python: &Path, tree: &Path) -> String {
    let out = Command::new(python)
        .args([
            "-c",
            "from pbr import packaging; print(packaging.get_version('demo'))",
        ])
        .current_dir(tree)
        .env_remove("PBR_VERSION")
        .env_remove("OSLO_PACKAGE_VERSION")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pbr in {}: {}",
        tree.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
#[ignore = "needs PyPI (pbr): run tests/run.sh"]
fn pbr_gives_a_loci_clone_the_version_of_locis_git_clone() {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pbr-venv-7.0.3");
    pyvenv::ensure_venv(&venv, &[PBR], "pbr")
        .unwrap_or_else(|e| panic!("cannot set up pbr from PyPI: {e}"));
    let python = venv.join("bin/python");

    // A pbr project: a tagged release, a commit on master after it, and a change under review
    // on top of master (a Gerrit ref, on no branch).
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("demo");
    std::fs::create_dir_all(src.join("demo")).unwrap();
    std::fs::write(src.join("setup.cfg"), "[metadata]\nname = demo\n").unwrap();
    std::fs::write(
        src.join("setup.py"),
        "import setuptools\nsetuptools.setup(setup_requires=['pbr'], pbr=True)\n",
    )
    .unwrap();
    std::fs::write(src.join("demo/__init__.py"), "").unwrap();
    git(&src, &["init", "-q", "-b", "master"]);
    git(&src, &["add", "-A"]);
    git(&src, &["commit", "-q", "-m", "Initial release"]);
    git(&src, &["tag", "-a", "-m", "demo 29.1.0", "29.1.0"]);
    std::fs::write(src.join("demo/__init__.py"), "# fixed\n").unwrap();
    git(&src, &["commit", "-q", "-am", "Fix a bug"]);
    std::fs::write(src.join("demo/__init__.py"), "# fixed again\n").unwrap();
    git(&src, &["commit", "-q", "-am", "Proposed change"]);
    git(&src, &["update-ref", "refs/changes/24/923324/10", "HEAD"]);
    git(&src, &["reset", "-q", "--hard", "HEAD~1"]);
    let url = format!("file://{}", src.display());

    let tls = loci::config::TlsConfig::default();
    for (reference, want) in [
        ("29.1.0", "29.1.0"),
        ("master", "29.1.1.dev1"),
        ("refs/changes/24/923324/10", "29.1.1.dev2"),
    ] {
        let name = reference.replace('/', "_");
        let ours = dir.path().join(format!("loci-{name}"));
        loci::steps::source::clone("PROJECT", &url, reference, &ours, false, &tls)
            .unwrap_or_else(|e| panic!("loci's clone of {reference}: {e}"));
        let theirs = dir.path().join(format!("git-{name}"));
        git(dir.path(), &["clone", "-q", &url, theirs.to_str().unwrap()]);
        git(&theirs, &["fetch", "-q", &url, reference]);
        git(&theirs, &["checkout", "-q", "FETCH_HEAD"]);
        let (got, expected) = (pbr_version(&python, &ours), pbr_version(&python, &theirs));
        assert_eq!(
            got, expected,
            "{reference}: pbr reads {got} from loci's clone, {expected} from LOCI's"
        );
        assert_eq!(got, want, "{reference}: pbr's version");
    }
}
