//! Safety under faults, end to end: `loci build` of keystone in a plain Debian bookworm
//! container (the binary bind-mounted, keystone from `git daemon`, the wheels over loopback
//! http), as tests/e2e_loci.rs builds it, and then:
//!
//! - SIGTERM while pip or uv runs: loci exits 143, and no process of the build is left in the
//!   container (the container's own shell outlives loci and lists what runs);
//! - the venv on a small tmpfs that fills during the install: non-zero, the message names
//!   /var/lib/openstack and the space left there.
//!
//! Needs Docker: run with `sudo tests/run.sh` (a plain `cargo test` lists these as ignored).

#[path = "support/e2e.rs"]
mod e2e;

use std::time::{Duration, Instant};

use e2e::*;

/// What a keystone build in a container needs: the wheels served over http, keystone in a git
/// daemon. Kept alive by the value.
struct Inputs {
    env: Vec<(String, String)>,
    _http: Server,
    _daemon: Server,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn inputs() -> Inputs {
    let requirements = requirements_image();
    let www = tempfile::tempdir().unwrap();
    export_wheels(&requirements, &www.path().join("wheels.tar.gz"));
    let http = http_server(www.path());
    let repos = tempfile::tempdir().unwrap();
    keystone_repo(repos.path());
    let daemon = git_daemon(repos.path());
    let env = vec![
        ("PROJECT".into(), "keystone".into()),
        ("PROJECT_RELEASE".into(), "2026.1".into()),
        (
            "PROJECT_REPO".into(),
            format!("git://127.0.0.1:{}/keystone", daemon.port),
        ),
        ("PROJECT_REF".into(), GERRIT_REF.into()),
        (
            "WHEELS".into(),
            format!("http://127.0.0.1:{}/wheels.tar.gz", http.port),
        ),
        ("SSL_CERT_FILE".into(), "/etc/ssl/host-ca.crt".into()),
        ("PIP_CERT".into(), "/etc/ssl/host-ca.crt".into()),
    ];
    Inputs {
        env,
        _http: http,
        _daemon: daemon,
        _dirs: (www, repos),
    }
}

/// A container removed when dropped.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker().args(["rm", "-f", &self.0]).output();
    }
}

/// Starts `loci build` in a detached plain bookworm container, under a shell that records its
/// exit code in /exit and stays: `extra` docker run arguments.
fn start_build(name: &str, inputs: &Inputs, extra: &[&str]) -> Container {
    let _ = docker().args(["rm", "-f", name]).output();
    let mut cmd = docker();
    cmd.args(["run", "-d", "--name", name, "--network", "host"])
        .arg("-v")
        .arg(format!("{}:/mnt/loci:ro", loci_binary().display()))
        .args([
            "-v",
            "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/host-ca.crt:ro",
        ])
        .args(extra);
    for (k, v) in &inputs.env {
        cmd.arg("-e").arg(format!("{k}={v}"));
    }
    cmd.arg(slim_image()).args([
        "sh",
        "-c",
        "/mnt/loci build > /build.log 2>&1; echo $? > /exit; exec sleep 3600",
    ]);
    check(&mut cmd);
    Container(name.to_string())
}

/// `docker exec NAME sh -c SCRIPT`, its standard output.
fn exec(name: &str, script: &str) -> String {
    let out = docker()
        .args(["exec", name, "sh", "-c", script])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The processes of the container: `pid command line` a line.
fn processes(name: &str) -> Vec<(u32, String)> {
    exec(
        name,
        r#"for p in /proc/[0-9]*; do [ -r $p/cmdline ] || continue; c=$(tr '\0' ' ' < $p/cmdline); [ -n "$c" ] && echo "${p#/proc/} $c"; done; true"#,
    )
    .lines()
    .filter_map(|l| {
        let (pid, cmd) = l.split_once(' ')?;
        Some((pid.parse().ok()?, cmd.trim().to_string()))
    })
    .collect()
}

/// Waits for the build's exit code (at most `limit`); it and the build's log.
fn exit_code(name: &str, limit: Duration) -> (i32, String) {
    let started = Instant::now();
    loop {
        let code = exec(name, "cat /exit 2>/dev/null");
        if let Ok(c) = code.trim().parse() {
            return (c, exec(name, "cat /build.log"));
        }
        assert!(
            started.elapsed() < limit,
            "the build did not end within {limit:?}:\n{}",
            exec(name, "tail -30 /build.log")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn sigterm_during_a_pip_run_leaves_no_process_behind() {
    require_docker();
    let _guard = lock();
    let inputs = inputs();
    let name = format!("loci-test-sigterm-{}", std::process::id());
    let c = start_build(&name, &inputs, &[]);
    // Until pip or uv installs something (the venv's toolchain or the project).
    let started = Instant::now();
    let (loci_pid, installer) = loop {
        let ps = processes(&c.0);
        let loci = ps.iter().find(|(_, c)| c.starts_with("/mnt/loci build"));
        let installer = ps.iter().find(|(_, c)| {
            (c.contains("bin/pip ") || c.contains("/uv ") || c.contains("pip install"))
                && c.contains("install")
        });
        if let (Some(l), Some(i)) = (loci, installer) {
            break (l.0, i.1.clone());
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no pip/uv install seen:\n{}",
            exec(&c.0, "tail -30 /build.log")
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let sent = Instant::now();
    exec(&c.0, &format!("kill -TERM {loci_pid}"));
    let (code, log) = exit_code(&c.0, Duration::from_secs(60));
    let took = sent.elapsed();
    std::fs::write(work_dir().join("logs/sigterm-during-pip.log"), &log).ok();
    assert_eq!(code, 143, "signalled during `{installer}`:\n{log}");
    assert!(log.contains("loci: interrupted by SIGTERM"), "{log}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    // Left: the container's shell (now `sleep`) and this listing, nothing of the build.
    let left: Vec<String> = processes(&c.0)
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c| !c.starts_with("sleep 3600") && !c.starts_with("sh -c for p in"))
        .collect();
    assert_eq!(
        left,
        Vec::<String>::new(),
        "processes left after loci ended (signalled during `{installer}`)"
    );
    let staging = exec(&c.0, "find / -xdev -name '*.loci-partial-*' 2>/dev/null");
    assert_eq!(staging.trim(), "", "staging directories left");
    record(&format!(
        "E2E-SIGTERM during `{}`: exit 143 after {:.1}s",
        installer.chars().take(80).collect::<String>(),
        took.as_secs_f64()
    ));
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn a_venv_disk_that_fills_during_the_install_is_named() {
    require_docker();
    let _guard = lock();
    let inputs = inputs();
    let name = format!("loci-test-diskfull-{}", std::process::id());
    let c = start_build(
        &name,
        &inputs,
        &["--tmpfs", "/var/lib/openstack:rw,exec,size=40m"],
    );
    let (code, log) = exit_code(&c.0, Duration::from_secs(900));
    std::fs::write(work_dir().join("logs/venv-disk-full.log"), &log).ok();
    assert_ne!(code, 0, "{log}");
    assert!(log.contains("the disk is full"), "{log}");
    assert!(
        log.contains(" free on the filesystem of /var/lib/openstack"),
        "{log}"
    );
    assert!(log.contains("hint: free space"), "{log}");
    // Nothing half-written in the wheels directory.
    let partial = exec(
        &c.0,
        "find /tmp/wheels -name '.*' -o -name '*.part' 2>/dev/null | grep -v '^/tmp/wheels$'",
    );
    assert_eq!(partial.trim(), "", "{log}");
}

/// What a `loci build` would change in a container: its machine id, /tmp, its packages.
fn state(name: &str) -> String {
    exec(
        name,
        "cat /etc/machine-id 2>/dev/null; echo; ls -A /tmp; echo; dpkg-query -W -f '${Package} ${Version}\\n' | sort | sha256sum; ls -d /var/lib/openstack 2>/dev/null; getent passwd keystone; true",
    )
}

/// `loci build` started by hand in a running container (`docker exec`, directly or from a
/// shell) is not a container build: it refuses before its first change, and the container is
/// unchanged. `--allow-host` and LOCI_ALLOW_HOST=1 let it proceed.
#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn loci_build_by_docker_exec_refuses_and_changes_nothing() {
    require_docker();
    let _guard = lock();
    let name = format!("loci-test-host-guard-{}", std::process::id());
    let _ = docker().args(["rm", "-f", &name]).output();
    check(
        docker()
            .args(["run", "-d", "--name", &name, "--network", "none"])
            .arg("-v")
            .arg(format!("{}:/mnt/loci:ro", loci_binary().display()))
            .args([slim_image().as_str(), "sleep", "3600"]),
    );
    let c = Container(name);
    exec(
        &c.0,
        "echo loci-test > /etc/machine-id; touch /tmp/keep-me; mkdir -p /tmp/dir-too",
    );
    let before = state(&c.0);
    assert!(before.contains("keep-me"), "{before}");
    let run = |args: &[&str]| {
        let out = docker()
            .args(["exec", "-e", "PROJECT=keystone", &c.0])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    for (how, args) in [
        ("docker exec loci", &["/mnt/loci", "build"][..]),
        (
            "a shell in the container",
            &["sh", "-c", "/mnt/loci build"][..],
        ),
        ("loci cleanup", &["/mnt/loci", "cleanup"][..]),
        ("loci packages", &["/mnt/loci", "packages", "jq"][..]),
    ] {
        let (code, text) = run(args);
        assert_eq!(code, 1, "{how}: {text}");
        assert!(
            text.contains(
                "refuses to change this system: it is not the command of a container build"
            ),
            "{how}: {text}"
        );
        assert!(text.contains("--allow-host"), "{how}: {text}");
        assert!(!text.contains("[1/"), "{how}: a step started: {text}");
        assert_eq!(state(&c.0), before, "{how} changed the container");
    }
    // --allow-host: the build proceeds to its first step (which then fails: no network here).
    let (code, text) = run(&["/mnt/loci", "build", "--allow-host"]);
    assert!(!text.contains("refuses to change"), "{text}");
    assert!(text.contains("wheels"), "{text}");
    assert_ne!(code, 0, "{text}");
    // LOCI_ALLOW_HOST=1: `loci cleanup` does its work on this container.
    let out = docker()
        .args([
            "exec",
            "-e",
            "LOCI_ALLOW_HOST=1",
            &c.0,
            "/mnt/loci",
            "cleanup",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let after = state(&c.0);
    assert!(!after.contains("keep-me"), "cleanup emptied /tmp: {after}");
}

/// Checks every installed file of the image's venv against its RECORD hash; `BAD n [...]`.
const VERIFY_VENV: &str = r#"
import base64, csv, hashlib, pathlib
site = sorted(pathlib.Path('/var/lib/openstack/lib').glob('python3*/site-packages'))[0]
bad, checked = [], 0
for rec in site.glob('*.dist-info/RECORD'):
    for row in csv.reader(open(rec)):
        if len(row) < 2 or not row[1].startswith('sha256='):
            continue
        p = site / row[0]
        if not p.exists():
            bad.append('missing ' + row[0]); continue
        h = base64.urlsafe_b64encode(hashlib.sha256(p.read_bytes()).digest()).rstrip(b'=').decode()
        checked += 1
        if 'sha256=' + h != row[1]:
            bad.append('changed ' + row[0])
print('CHECKED', checked)
print('BAD', len(bad), bad[:10])
"#;

/// The image's venv: keystone imports, its manage command runs, every file matches RECORD.
fn assert_sound_venv(image: &str) {
    let out = sh_in(
        image,
        &format!(
            "export PYTHONDONTWRITEBYTECODE=1; /var/lib/openstack/bin/python -c 'import keystone.server.flask' && echo IMPORT-OK; \
             /var/lib/openstack/bin/keystone-manage --help >/dev/null && echo MANAGE-OK; \
             /var/lib/openstack/bin/python -c \"{}\"",
            VERIFY_VENV.replace('"', "\\\"")
        ),
    );
    assert!(
        out.contains("IMPORT-OK") && out.contains("MANAGE-OK"),
        "{image}: {out}"
    );
    assert!(out.contains("BAD 0 []"), "{image}: {out}");
    let checked: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("CHECKED "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        checked > 1000,
        "{image}: only {checked} files checked: {out}"
    );
}

/// Two keystone builds at once on one engine, sharing the package caches (the same cache ids:
/// same FROM and platform), both from scratch (`--no-cache`): both succeed with sound venvs.
/// Then the Python cache is damaged (a module truncated in uv's cache, every cached wheel
/// cut short) and a third build must still install sound files.
#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn concurrent_builds_share_the_caches_and_a_damaged_cache_is_not_installed() {
    require_docker();
    let _guard = lock();
    let base = base_image();
    let requirements = requirements_image();
    let wheels_ref = "loci-test/requirements:concurrent".to_string();
    check(docker().args(["tag", &requirements, &wheels_ref]));
    let repos = tempfile::tempdir().unwrap();
    let (_repo, tag) = keystone_repo(repos.path());
    let daemon = git_daemon(repos.path());
    let project_repo = format!("git://127.0.0.1:{}/keystone", daemon.port);
    let ctx = Context::new();
    // Builds that differ in one argument that changes nothing in the image (so that BuildKit
    // runs both instead of sharing one run).
    let build = |name: &str, timeout: &str| {
        let mut args = ctx.args(
            &base,
            &[
                ("PROJECT", "keystone"),
                ("PROJECT_REPO", &project_repo),
                ("PROJECT_REF", &tag),
                ("PROJECT_RELEASE", "2026.1"),
                ("WHEELS", &wheels_ref),
                ("LOCI_HTTP_READ_TIMEOUT", timeout),
            ],
        );
        let image = format!("loci-test/keystone-{name}:2026.1");
        // Not --no-cache: BuildKit then ignores the cache mounts too. The argument, unique to
        // this run, makes the build's RUN run.
        args.extend(["-t".into(), image.clone()]);
        (args, image)
    };
    let unique = |n: u32| format!("{n}.{:03}", std::process::id() % 1000);
    let (args_a, image_a) = build("concurrent-a", &unique(31));
    let (args_b, image_b) = build("concurrent-b", &unique(32));
    let started = Instant::now();
    std::thread::scope(|s| {
        let a = s.spawn(|| docker_build("keystone-concurrent-a", &args_a, ctx.path()));
        // Started a moment later, so that both fill the caches at the same time.
        std::thread::sleep(Duration::from_secs(2));
        let b = s.spawn(|| docker_build("keystone-concurrent-b", &args_b, ctx.path()));
        a.join().expect("build a");
        b.join().expect("build b");
    });
    record(&format!(
        "E2E-BUILD-TIME keystone-two-concurrent {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    assert_sound_venv(&image_a);
    assert_sound_venv(&image_b);

    // Damage the shared Python cache as an interrupted or broken writer would.
    let damage = tempfile::tempdir().unwrap();
    std::fs::write(
        damage.path().join("Dockerfile"),
        "ARG FROM\nFROM ${FROM}\nARG FROM\nARG TARGETPLATFORM\nARG RUN_ID\n\
         RUN --mount=type=cache,id=loci-python-${FROM}-${TARGETPLATFORM},target=/c,sharing=shared \\\n\
         n=0; for f in $(find /c -path '*oslo_config/cfg.py' -type f) $(find /c -name '*.whl' -type f); do \
         truncate -s 10 \"$f\"; n=$((n+1)); done; echo \"DAMAGED $n\"; test $n -gt 0\n",
    )
    .unwrap();
    docker_build(
        "damage-python-cache",
        &[
            // Not --no-cache (the cache mounts would be ignored): RUN_ID makes the RUN run.
            "--build-arg".into(),
            format!("FROM={base}"),
            "--build-arg".into(),
            format!(
                "RUN_ID={}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ),
        ],
        damage.path(),
    );
    let (args_c, image_c) = build("after-damage", &unique(33));
    docker_build("keystone-after-damage", &args_c, ctx.path());
    drop(daemon);
    assert_sound_venv(&image_c);
    for i in [&image_a, &image_b, &image_c] {
        let _ = docker().args(["rmi", i]).output();
    }
}
