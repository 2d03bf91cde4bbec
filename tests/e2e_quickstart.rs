//! README.md's "Quick start", run as written: its block of commands is read from the README,
//! each command split as a shell splits it, and run in a checkout of the repository (its
//! tracked files, copied) with `--network host` added, as this machine's daemon has no bridge.
//!
//! What this machine cannot reach is provided around the commands, not in them, where the
//! engine allows: `debian:bookworm` (Docker Hub is out of reach) is the suite's debootstrap
//! bookworm, tagged so in the engine's image store, and the first command builds the base FROM
//! it unchanged; the host's CA bundle is in the checkout's `certs/` (the documented extra-CA
//! feature: HTTPS goes through a re-signing proxy here). The second command gets three build
//! arguments more, as the README says next to it: keystone's source from a `git daemon` on
//! 127.0.0.1 with a `stable/2026.1` branch (opendev.org is out of reach), UPPER_CONSTRAINTS
//! served on 127.0.0.1 (releases.openstack.org too) and the loci binary prebuilt as LOCI_IMAGE
//! (the default compiles it in `rust:1-bookworm`, from Docker Hub). The third runs as written.
//! The keystone must issue a token and be clean.
//!
//! Needs Docker: run it with `tests/run.sh` (a plain `cargo test` lists it as ignored).

#[path = "support/e2e.rs"]
mod e2e;

use std::fs;

use e2e::*;

/// The commands of the README's quick start block (its indented lines, `\` continuations
/// joined), each split into words.
fn quick_start() -> Vec<Vec<String>> {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("## Quick start\n")
        .expect("a Quick start section");
    let rest = &readme[start..];
    let block: Vec<&str> = rest
        .lines()
        .skip_while(|l| !l.starts_with("    "))
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .collect();
    let joined = block.join("\n").replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| shlex::split(l).unwrap_or_else(|| panic!("not a command: {l}")))
        .collect()
}

#[test]
fn the_quick_start_block_is_three_commands() {
    let cmds = quick_start();
    assert_eq!(cmds.len(), 3, "{cmds:?}");
    assert_eq!(cmds[0][..3], ["docker", "build", "-f"]);
    assert_eq!(cmds[1][..2], ["docker", "build"]);
    assert_eq!(cmds[2][..3], ["docker", "run", "--rm"]);
    // No host networking and no target in what a user elsewhere types.
    for c in &cmds {
        assert!(!c.iter().any(|w| w.starts_with("--network")), "{c:?}");
        assert!(!c.iter().any(|w| w == "--target"), "{c:?}");
    }
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn the_quick_start_builds_a_keystone_that_issues_a_token() {
    require_docker();
    let _guard = lock();
    let cmds = quick_start();
    let checkout = checkout();

    // 1. The base, as written, FROM `debian:bookworm` found in the engine's own image store.
    let base = &cmds[0];
    assert!(
        base.contains(&"FROM=debian:bookworm".to_string()),
        "the quick start's base is no longer FROM debian:bookworm: {base:?}"
    );
    check(docker().args(["tag", &slim_image(), "debian:bookworm"]));
    let took = run_in("quickstart-base", checkout.path(), base);
    let base_tag = tag_of(base);
    record(&format!(
        "E2E-QUICKSTART base as written, FROM the local debian:bookworm: {:.1}s",
        took.as_secs_f64()
    ));
    let os = sh_in(
        &base_tag,
        ". /etc/os-release; echo $VERSION_CODENAME; python3 -m venv --help >/dev/null && echo venv",
    );
    assert_eq!(os, "bookworm\nvenv", "{base_tag}");

    // 2. keystone on that base, as written, plus what the README says this machine adds.
    let repos = tempfile::tempdir().unwrap();
    let (repo, tag) = keystone_repo(repos.path());
    git(&repo, &["branch", "stable/2026.1", &tag]);
    let commit = rev_parse(&repo, &tag);
    let daemon = git_daemon(repos.path());
    let (_http, upper) = served_upper_constraints();
    let build = &cmds[1];
    assert_eq!(build.last().map(String::as_str), Some("."), "{build:?}");
    let mut argv: Vec<String> = build[..build.len() - 1].to_vec();
    argv.extend(build_args(&[
        (
            "PROJECT_REPO",
            &format!("git://127.0.0.1:{}/keystone", daemon.port),
        ),
        ("UPPER_CONSTRAINTS", &upper),
        ("LOCI_IMAGE", &loci_image()),
    ]));
    argv.push(".".into());
    let took = run_in("quickstart-keystone", checkout.path(), &argv);
    let image = tag_of(build);
    record(&format!(
        "E2E-QUICKSTART keystone at the default target from PyPI: {:.1}s, {:.1} MB",
        took.as_secs_f64(),
        image_bytes(&image) as f64 / 1e6
    ));
    drop(daemon);
    let project_txt = sh_in(&image, "cat /etc/image_info/project.txt");
    assert!(project_txt.contains(&commit), "{project_txt}");

    // 3. The README's `docker run`, as written.
    let run = &cmds[2];
    let out = stdout(docker().args(&run[1..]));
    assert!(
        out.trim()
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit()),
        "keystone-manage --version printed {out:?}"
    );

    assert_issues_tokens(&image);
    assert_clean(&image);
}

/// The value of a command's `-t`.
fn tag_of(cmd: &[String]) -> String {
    cmd.windows(2)
        .find(|w| w[0] == "-t")
        .map(|w| w[1].clone())
        .unwrap_or_else(|| panic!("the command tags no image: {cmd:?}"))
}

/// A checkout of the repository: its tracked files, as they are in the working tree, copied to
/// a directory of their own, and the host's CA bundle in `certs/` (the README's extra-CA
/// feature; the proxy of this machine re-signs HTTPS).
fn checkout() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("loci-checkout")
        .tempdir_in(work_dir())
        .unwrap();
    let files = git(&root(), &["ls-files", "-z"]);
    for f in files.split('\0').filter(|f| !f.is_empty()) {
        let from = root().join(f);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = dir.path().join(f);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&from, &to).unwrap();
    }
    let ca = host_ca_bundle();
    assert!(
        !ca.is_empty(),
        "no /etc/ssl/certs/ca-certificates.crt on this host (apt-get install ca-certificates)"
    );
    fs::write(dir.path().join("certs/host-ca.crt"), ca).unwrap();
    dir
}

/// Runs `argv` (`docker build ...` as the README writes it) in `dir` with `--network host`
/// added after `build` (see [`run_build`]).
fn run_in(name: &str, dir: &std::path::Path, argv: &[String]) -> std::time::Duration {
    assert_eq!(argv[..2], ["docker", "build"], "{argv:?}");
    let mut cmd = docker();
    cmd.current_dir(dir)
        .args(["build", "--network", "host"])
        .args(&argv[2..]);
    run_build(name, &mut cmd)
}

/// The README's `loci plan` and `loci config` commands (its opening and its troubleshooting
/// list: `PROJECT=... loci plan|config`, indented or in backticks), run as written on this
/// machine with the loci of this build; each must succeed and print what the README says.
#[test]
fn the_readmes_loci_plan_and_config_commands_run_as_written() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let mut cmds: Vec<String> = Vec::new();
    for line in readme.lines() {
        if let Some(c) = line.strip_prefix("    PROJECT=") {
            cmds.push(format!("PROJECT={}", c.split(" #").next().unwrap().trim()));
        }
        for span in line.split('`').skip(1).step_by(2) {
            if span.starts_with("PROJECT=") && span.contains(" loci ") {
                cmds.push(span.to_string());
            }
        }
    }
    assert!(cmds.len() >= 3, "the README's loci commands: {cmds:?}");
    for c in &cmds {
        let words = shlex::split(c).unwrap_or_else(|| panic!("not a command: {c}"));
        let at = words.iter().position(|w| w == "loci").expect("runs loci");
        let env: Vec<(String, String)> = words[..at]
            .iter()
            .map(|w| {
                let (k, v) = w.split_once('=').unwrap_or_else(|| panic!("{c}: {w}"));
                (k.to_string(), v.to_string())
            })
            .collect();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_loci"))
            .env_clear()
            .envs(env)
            .args(&words[at + 1..])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{c}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        match words[at + 1].as_str() {
            "plan" => assert!(text.starts_with("plan for keystone on "), "{c}:\n{text}"),
            "config" => assert!(
                text.lines().any(|l| l.starts_with("PROFILES=ldap fluent")),
                "{c}:\n{text}"
            ),
            other => panic!("{c}: loci {other}"),
        }
    }
}
