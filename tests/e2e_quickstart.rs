//! README.md's "Quick start", run as written: its block of commands is read from the README,
//! each command split as a shell splits it, and run in the repository with only what this
//! machine needs added (its daemon has no bridge: `--network host`; opendev.org,
//! releases.openstack.org, Docker Hub and the Rust image are out of reach: keystone's source
//! from a `git daemon` on 127.0.0.1 at a `stable/2026.1` branch, UPPER_CONSTRAINTS served on
//! 127.0.0.1, the loci binary prebuilt as LOCI_IMAGE, and `loci/base:debian` the suite's build
//! of the first command's Dockerfile.base on a debootstrap bookworm, as `debian:bookworm`
//! cannot be pulled). The keystone it builds must issue a token and be clean.
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

    // 1. The base: the suite's build of Dockerfile.base, under the name the README gives it.
    let base_tag = cmds[0]
        .windows(2)
        .find(|w| w[0] == "-t")
        .map(|w| w[1].clone())
        .expect("the base command tags its image");
    check(docker().args(["tag", &base_image(), &base_tag]));

    // 2. keystone, as written, with this machine's additions.
    let repos = tempfile::tempdir().unwrap();
    let (repo, tag) = keystone_repo(repos.path());
    git(&repo, &["branch", "stable/2026.1", &tag]);
    let commit = rev_parse(&repo, &tag);
    let daemon = git_daemon(repos.path());
    let (_http, upper) = served_upper_constraints();
    let build = &cmds[1];
    assert_eq!(build.last().map(String::as_str), Some("."), "{build:?}");
    let mut args: Vec<String> = build[2..build.len() - 1].to_vec();
    args.extend(build_args(&[
        (
            "PROJECT_REPO",
            &format!("git://127.0.0.1:{}/keystone", daemon.port),
        ),
        ("UPPER_CONSTRAINTS", &upper),
        ("LOCI_IMAGE", &loci_image()),
    ]));
    let took = docker_build("quickstart-keystone", &args, &root());
    let image = build
        .windows(2)
        .find(|w| w[0] == "-t")
        .map(|w| w[1].clone())
        .expect("the keystone command tags its image");
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

    let ks = Keystone::start(&image);
    let (status, token) = ks.issue_token();
    assert_eq!(status, 201, "{image}: logs:\n{}", ks.logs());
    assert!(token.is_some_and(|t| t.len() > 20), "{image}: no token");
    let left = leftovers(&image);
    assert!(left.is_empty(), "{image}:\n{}", left.join("\n"));
}
