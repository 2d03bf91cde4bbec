//! Running commands in the tests: a failure shows the command, its exit status, its stdout and
//! its stderr, once, here, instead of each test's own copy of that assertion. And the small
//! git repositories and Python projects the requirements builds take.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `cmd`, panicking with its output when it cannot run or fails; returns the output.
pub fn ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    succeeded(format!("{cmd:?}"), out)
}

/// The output of `what`, which ran already, panicking with it when it failed.
pub fn succeeded(what: impl std::fmt::Display, out: Output) -> Output {
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Runs `cmd`, panicking when it cannot run or succeeds; returns the output.
pub fn fails(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if out.status.success() {
        panic!(
            "{cmd:?} succeeded, but should fail:\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// The standard output of a successful run of `cmd`, trimmed.
pub fn stdout(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&ok(cmd).stdout).trim().to_string()
}

/// `git ARGS` in `dir`, as a fixed author and committer, without the system's or the user's
/// git configuration; its standard output, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    stdout(
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "loci tests")
            .env("GIT_AUTHOR_EMAIL", "loci-tests@example.invalid")
            .env("GIT_COMMITTER_NAME", "loci tests")
            .env("GIT_COMMITTER_EMAIL", "loci-tests@example.invalid")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir),
    )
}

/// A git repository at `dir` holding `files` (besides what is there already), committed on
/// master (also branch stable/2026.1).
pub fn git_repo(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    git(dir, &["init", "-q", "-b", "master"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "files"]);
    git(dir, &["branch", "stable/2026.1"]);
}

/// A minimal setuptools project with a setup.cfg at `dir`, as LOCI's source trees have: one
/// module named after the project.
pub fn python_project(dir: &Path, name: &str, version: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let module = name.replace('-', "_");
    std::fs::write(
        dir.join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("setup.cfg"),
        format!(
            "[metadata]\nname = {name}\nversion = {version}\n\n[options]\npy_modules = {module}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join(format!("{module}.py")), "VALUE = 1\n").unwrap();
}
