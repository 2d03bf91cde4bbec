//! End to end: the README's main job, exactly as the README gives it (`tools/build-keystone.sh`),
//! and the keystone it leaves: started as the keystone user on 127.0.0.1 (db_sync on sqlite,
//! bootstrap, uwsgi), it must issue a token. The main job once shipped a keystone whose venv
//! held five of keystone's modules (pbr without git in a git work tree): the image built, and
//! nothing ran it.
//!
//! Reused rather than built twice: the suite's debootstrap image is the rootfs the script makes
//! (Debian bookworm `--variant=minbase` without apt caches, docs and locales); when the engine
//! has no `loci/debian:bookworm-minbase`, it is tagged as that, so the script skips its own
//! debootstrap. Everything else is the script's own work: its base, its requirements image
//! (keystone's closure plus uwsgi), its keystone from the PyPI sdist.

#[path = "support/e2e.rs"]
mod e2e;

use std::fs;
use std::process::Command;

use e2e::*;

/// What tools/build-keystone.sh leaves.
const KEYSTONE: &str = "loci/keystone:2026.1";
const ROOTFS: &str = "loci/debian:bookworm-minbase";

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn the_main_job_leaves_a_keystone_that_issues_tokens() {
    require_docker();
    let _guard = lock();
    if !image_exists(ROOTFS) {
        check(docker().args(["tag", &slim_image(), ROOTFS]));
    }
    let logs = work_dir().join("logs");
    fs::create_dir_all(&logs).unwrap();
    let log_path = logs.join("build-keystone.log");
    let log = fs::File::create(&log_path).unwrap();
    let script = root().join("tools/build-keystone.sh");
    eprintln!("+ {}", script.display());
    let started = std::time::Instant::now();
    // The defaults, as a first-time user runs it: no registry, signing, other platforms or
    // sources from the environment of the suite.
    let status = Command::new(&script)
        .current_dir(root())
        .env_remove("REGISTRY")
        .env_remove("COSIGN_KEY")
        .env_remove("PLATFORMS")
        .env_remove("FULL_REQUIREMENTS")
        .env_remove("KEYSTONE_REPO")
        .env_remove("KEYSTONE_REF")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(80).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "tools/build-keystone.sh failed ({status}); log {}:\n{}",
            log_path.display(),
            tail.join("\n")
        );
    }
    record(&format!(
        "E2E-BUILD-TIME main-job(tools/build-keystone.sh) {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    // The script's own figures: "== docker build keystone took 22s".
    for line in text.lines().filter(|l| l.starts_with("== docker build ")) {
        record(&format!("E2E-MAIN-JOB {}", line.trim_start_matches("== ")));
    }

    // The image holds keystone whole: its own check said so, and its commands run.
    assert!(
        text.contains("the install of keystone from /tmp/keystone: complete"),
        "no coverage line in {}",
        log_path.display()
    );
    let help = sh_in(KEYSTONE, "keystone-manage --help | head -1");
    assert!(help.starts_with("usage: keystone-manage"), "{help}");

    // And it serves: a token for the admin user.
    assert_issues_tokens(KEYSTONE);
    record(&format!("E2E-MAIN-JOB {KEYSTONE} issued a token"));
}
