//! Hostile and mistaken input, through the real binary: no panic, no hang, every message naming
//! its input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/os-release")
        .join(name)
}

/// `loci ARGS` with a clean environment plus `env`; stdout goes to `stdout`.
fn loci(args: &[&str], env: &[(&str, &str)], stdout: Stdio) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loci"));
    cmd.env_clear()
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// `loci plan` arguments for Debian bookworm with an empty loci dir.
fn plan_args(loci_dir: &Path, json: bool) -> Vec<String> {
    let mut v = vec!["plan".to_string()];
    if json {
        v.push("--json".into());
    }
    v.push("--os-release".into());
    v.push(fixture("debian-bookworm").display().to_string());
    v.push("--loci-dir".into());
    v.push(loci_dir.display().to_string());
    v
}

fn no_panic(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !matches!(out.status.code(), Some(101) | Some(134)),
        "{:?}: {stderr}",
        out.status
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_ne!(out.status.signal(), Some(6), "SIGABRT: {stderr}");
    }
}

/// A pipe whose reading end is already closed: every write to it fails with EPIPE.
fn closed_pipe() -> Stdio {
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    Stdio::from(writer)
}

#[test]
fn plan_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for json in [false, true] {
        let args = plan_args(dir.path(), json);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = loci(&args, &[("PROJECT", "keystone")], closed_pipe());
        no_panic(&out);
        assert!(out.status.success(), "{:?}", out);
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn plan_piped_into_head_ends_quietly() {
    // The real thing: `loci plan --json | head -1`, the reader going away mid-output.
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_loci");
    for json in ["", "--json"] {
        let script = format!(
            "PROJECT=keystone {bin} plan {json} --os-release {} --loci-dir {} | head -c 10 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
            fixture("debian-bookworm").display(),
            dir.path().display()
        );
        let out = Command::new("bash").args(["-c", &script]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(code == "0" || code == "141", "exit {code}: {stderr}");
    }
}

#[test]
fn plan_into_a_full_disk_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let args = plan_args(dir.path(), true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = loci(&args, &[("PROJECT", "keystone")], Stdio::from(full));
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write the output to stdout"),
        "{stderr}"
    );
}

#[test]
fn bindep_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bindep.txt");
    std::fs::write(&file, "curl\ngcc [compile]\n").unwrap();
    let out = loci(
        &[
            "bindep",
            "-l",
            "newline",
            "-f",
            file.to_str().unwrap(),
            "--os-release",
            fixture("debian-bookworm").to_str().unwrap(),
        ],
        &[],
        closed_pipe(),
    );
    no_panic(&out);
}

#[test]
fn project_like_an_option_is_refused_by_plan_and_build() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["plan", "build"] {
        let out = loci(
            &[
                cmd,
                "--os-release",
                fixture("debian-bookworm").to_str().unwrap(),
                "--loci-dir",
                dir.path().to_str().unwrap(),
            ],
            &[("PROJECT", "--help")],
            Stdio::piped(),
        );
        no_panic(&out);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("PROJECT=\"--help\" is refused"),
            "{cmd}: {stderr}"
        );
        assert!(stderr.contains("hint:"), "{cmd}: {stderr}");
    }
}

/// `loci CMD --os-release OS --loci-dir (empty)` with `env`; plan and build must refuse alike.
fn refused_by_plan_and_build(os_release: &Path, env: &[(&str, &str)], wants: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["plan", "build"] {
        let out = loci(
            &[
                cmd,
                "--os-release",
                os_release.to_str().unwrap(),
                "--loci-dir",
                dir.path().to_str().unwrap(),
            ],
            env,
            Stdio::piped(),
        );
        no_panic(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd} {env:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{cmd} {env:?} did something");
        for want in wants {
            assert!(stderr.contains(want), "{cmd} {env:?}: {stderr}");
        }
        assert!(stderr.contains("hint:"), "{cmd} {env:?}: {stderr}");
    }
}

#[test]
fn unusable_wheels_are_refused_by_plan_and_build() {
    let os = fixture("debian-bookworm");
    for (wheels, want) in [
        (
            "ftp://mirror.example/wheels.tar.gz",
            "ftp:// URLs are not supported",
        ),
        (
            "file:///srv/wheels.tar.gz",
            "file:// URLs are not supported",
        ),
        (
            "loci/requirements@sha256:xyz",
            "not a valid image reference",
        ),
    ] {
        refused_by_plan_and_build(
            &os,
            &[("PROJECT", "keystone"), ("WHEELS", wheels)],
            &[&format!("WHEELS={wheels}"), want, "http(s) URL"],
        );
    }
}

#[test]
fn an_os_release_without_id_is_named_by_plan_and_build() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty-os-release");
    std::fs::write(&empty, "").unwrap();
    let no_id = dir.path().join("no-id-os-release");
    std::fs::write(&no_id, "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n").unwrap();
    for file in [&empty, &no_id] {
        refused_by_plan_and_build(
            file,
            &[("PROJECT", "keystone")],
            &[&file.display().to_string(), "no ID"],
        );
    }
}

/// `loci fetch-wheels` with WHEELS=`wheels` into `root/dest`; the output.
fn fetch_wheels(wheels: &str, dest: &Path) -> Output {
    loci(
        &["fetch-wheels"],
        &[("WHEELS", wheels), ("WHEELS_DEST", dest.to_str().unwrap())],
        Stdio::piped(),
    )
}

#[test]
fn fetch_wheels_refuses_endless_empty_and_constraint_less_input() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("wheels");
    let started = std::time::Instant::now();
    let out = fetch_wheels("/dev/zero", &dest);
    no_panic(&out);
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("WHEELS=/dev/zero"), "{stderr}");
    assert!(
        stderr.contains("follow the end of the tar archive"),
        "{stderr}"
    );

    let empty = root.path().join("empty.tar.gz");
    std::fs::write(&empty, "").unwrap();
    let out = fetch_wheels(empty.to_str().unwrap(), &dest);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("WHEELS={}", empty.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("holds no wheels and no upper-constraints.txt"),
        "{stderr}"
    );

    let no_uc = root.path().join("no-uc");
    std::fs::create_dir(&no_uc).unwrap();
    std::fs::write(no_uc.join("a-1-py3-none-any.whl"), "a").unwrap();
    let out = fetch_wheels(no_uc.to_str().unwrap(), &dest);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("holds no upper-constraints.txt"),
        "{stderr}"
    );

    // Nothing was left behind by any of them.
    let mut names: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["empty.tar.gz", "no-uc"]);
}

/// `loci plan` for keystone on bookworm with `--loci-dir dir`; the output.
fn plan_with_loci_dir(dir: &Path) -> Output {
    loci(
        &[
            "plan",
            "--os-release",
            fixture("debian-bookworm").to_str().unwrap(),
            "--loci-dir",
            dir.to_str().unwrap(),
        ],
        &[("PROJECT", "keystone")],
        Stdio::piped(),
    )
}

#[test]
fn a_bindep_file_that_is_not_utf8_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bindep.txt"), "curl\n").unwrap();
    let bad = dir.path().join("bindep-extra.txt");
    std::fs::write(&bad, b"libfoo\nlib\xff\xfebar\n").unwrap();
    let out = plan_with_loci_dir(dir.path());
    no_panic(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{} is not UTF-8 text", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("offset 10 (line 2)"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn a_missing_loci_dir_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let out = plan_with_loci_dir(&missing);
    no_panic(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("--loci-dir {}", missing.display())),
        "{stderr}"
    );
    assert!(stderr.contains("hint: --loci-dir must name"), "{stderr}");
}

#[test]
fn a_huge_bindep_line_is_not_echoed_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let line = format!("{}\t[x]", "p".repeat(10 << 20));
    std::fs::write(dir.path().join("bindep.txt"), format!("curl\n{line}\n")).unwrap();
    let out = plan_with_loci_dir(dir.path());
    no_panic(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.len() < 4000, "{} bytes of stderr", stderr.len());
    assert!(stderr.contains("bindep.txt:2:"), "{stderr}");
    assert!(stderr.contains('…'), "{stderr}");
}

#[test]
fn build_refuses_a_missing_local_wheels_before_the_first_step() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("wheels.tar.gz");
    let no_uc = dir.path().join("wheels-dir");
    std::fs::create_dir(&no_uc).unwrap();
    for (wheels, want) in [
        (&missing, "cannot open the archive"),
        (&no_uc, "holds no upper-constraints.txt"),
    ] {
        let out = loci(
            &[
                "build",
                "--os-release",
                fixture("debian-bookworm").to_str().unwrap(),
                "--loci-dir",
                dir.path().to_str().unwrap(),
            ],
            &[
                ("PROJECT", "keystone"),
                ("WHEELS", wheels.to_str().unwrap()),
            ],
            Stdio::piped(),
        );
        no_panic(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        // Not a single step started.
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.contains(&format!("WHEELS={}", wheels.display())) && stderr.contains(want),
            "{stderr}"
        );
    }
}

/// A named input that is absent is refused, never skipped: EXTRA_BINDEP/EXTRA_PYDEP naming a
/// file the loci dir does not hold, or one loci would not read (not `bindep*`/`pydep*`).
#[test]
fn missing_or_unread_extra_dependency_files_are_refused_by_plan_and_build() {
    let os = fixture("debian-bookworm");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bindep.txt"), "curl\n").unwrap();
    std::fs::write(dir.path().join("bindep-site.txt"), "jq\n").unwrap();
    std::fs::write(dir.path().join("site-pydep.txt"), "six\n").unwrap();
    for (env, wants) in [
        (
            ("EXTRA_BINDEP", "extra/bindep-missing.txt"),
            &[
                "EXTRA_BINDEP=extra/bindep-missing.txt",
                "there is no bindep-missing.txt in the loci dir",
            ][..],
        ),
        (
            ("EXTRA_PYDEP", "site-pydep.txt"),
            &["EXTRA_PYDEP=site-pydep.txt", "loci reads only pydep* files"][..],
        ),
        (
            ("EXTRA_BINDEP", "bindep-site.txt bindep-gone.txt"),
            &["there is no bindep-gone.txt"][..],
        ),
    ] {
        for cmd in ["plan", "build"] {
            let out = loci(
                &[
                    cmd,
                    "--os-release",
                    os.to_str().unwrap(),
                    "--loci-dir",
                    dir.path().to_str().unwrap(),
                ],
                &[("PROJECT", "keystone"), env],
                Stdio::piped(),
            );
            no_panic(&out);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{cmd} {env:?}: {stderr}");
            assert!(out.stdout.is_empty(), "{cmd} {env:?} did something");
            for w in wants {
                assert!(stderr.contains(w), "{cmd} {env:?}: {stderr}");
            }
            assert!(stderr.contains("hint:"), "{stderr}");
        }
    }
    // Named and there: read (its package is in the plan).
    let out = loci(
        &[
            "plan",
            "--os-release",
            os.to_str().unwrap(),
            "--loci-dir",
            dir.path().to_str().unwrap(),
        ],
        &[("PROJECT", "keystone"), ("EXTRA_BINDEP", "bindep-site.txt")],
        Stdio::piped(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(" jq"));
}

/// `loci fetch-wheels` without WHEELS (or with it empty) has nothing to fetch: an error, and
/// nothing created.
#[test]
fn fetch_wheels_without_wheels_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("wheels");
    for env in [
        vec![("WHEELS_DEST", dest.to_str().unwrap())],
        vec![("WHEELS", ""), ("WHEELS_DEST", dest.to_str().unwrap())],
    ] {
        let out = loci(&["fetch-wheels"], &env, Stdio::piped());
        no_panic(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{env:?}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(stderr.contains("WHEELS is not set"), "{stderr}");
        assert!(stderr.contains("hint: set WHEELS"), "{stderr}");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }
}
