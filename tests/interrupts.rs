//! SIGTERM and SIGINT at each point where loci holds half-done work, sent to real processes:
//!
//! - during a fetch (`loci fetch-wheels` from a server that stalls mid-archive): exit 143
//!   (130 for SIGINT), no staging directory, no WHEELS_DEST; the next run fetches cleanly;
//! - during a merge into an existing WHEELS_DEST (`strace` makes every rename slow): the merge
//!   is finished, never left half-way, then exit 143, no staging directory;
//! - during the requirements pool (its workers running `sh` stand-ins for `pip wheel`, each
//!   with a grandchild): every child and grandchild stopped, the builds' directories removed,
//!   exit 143; the next run's builds do not see what the stopped ones left;
//! - a stale staging directory of a killed run is removed by the next one, a live one's is not.
//!
//! The pool's process is this test program itself, started again in a child mode (a signal
//! to a process needs every thread of it to leave the signal to loci's watcher, which a test
//! harness's threads do not): so this file has its own `main` (harness = false).

#[path = "support/wheel.rs"]
mod wheel;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const CHILD_MODE: &str = "LOCI_TEST_INTERRUPTS_POOL_CHILD";

type Test = (&'static str, fn());

fn main() {
    if let Ok(work) = std::env::var(CHILD_MODE) {
        pool_child(Path::new(&work));
    }
    let tests: &[Test] = &[
        ("sigterm_and_sigint_during_a_fetch", during_a_fetch),
        ("sigterm_during_a_merge_into_wheels_dest", during_a_merge),
        ("sigterm_during_the_requirements_pool", during_the_pool),
        (
            "a_stale_staging_directory_is_removed_a_live_one_kept",
            stale_staging,
        ),
    ];
    // cargo test passes its own arguments (--include-ignored, --skip, a name filter): a plain
    // word filters by name, options are accepted and ignored.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut filters = Vec::new();
    let mut skip = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--skip" => {
                skip.extend(args.get(i + 1).cloned());
                i += 1;
            }
            a if a.starts_with('-') => {}
            a => filters.push(a.to_string()),
        }
        i += 1;
    }
    if args.iter().any(|a| a == "--list") {
        for (name, _) in tests {
            println!("{name}: test");
        }
        return;
    }
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, test) in tests {
        if (!filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())))
            || skip.iter().any(|s| name.contains(s.as_str()))
        {
            continue;
        }
        ran += 1;
        let started = Instant::now();
        let ok = std::panic::catch_unwind(test).is_ok();
        println!(
            "test {name} ... {} ({:.1}s)",
            if ok { "ok" } else { "FAILED" },
            started.elapsed().as_secs_f64()
        );
        if !ok {
            failed.push(*name);
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        ran - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

fn loci() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_loci"));
    c.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Waits for `child` at most `limit`; its exit code and both outputs.
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut text = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut text);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    (child.wait().unwrap().code(), text)
}

/// Polls `cond` every 20 ms for at most `limit`.
fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Serves `body` at every path: whole when `whole` is set, else its first quarter and then
/// silence.
fn serve(body: Vec<u8>, whole: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/wheels.tar.gz", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            let body = body.clone();
            let whole = whole.load(Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).map(|n| n == 0).unwrap_or(true) || l == "\r\n" {
                        break;
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let upto = if whole { body.len() } else { body.len() / 4 };
                let _ = conn.write_all(&body[..upto]);
                let _ = conn.flush();
                if !whole {
                    std::thread::sleep(Duration::from_secs(300));
                }
            });
        }
    });
    url
}

fn during_a_fetch() {
    let files: Vec<(String, Vec<u8>)> = (0..4)
        .map(|i| {
            (
                format!("pkg{i}-1.0-py3-none-any.whl"),
                wheel::noise(2 << 20, i),
            )
        })
        .collect();
    let body = wheel::wheels_archive(&files);
    let whole = Arc::new(AtomicBool::new(false));
    let url = serve(body, whole.clone());
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("wheels");
    // SIGTERM while a read waits on the silent server (the default 30 s read timeout: loci
    // stops itself after its grace time); SIGINT with a 2 s read timeout (the fetch unwinds
    // by itself at the next read).
    for (sig, code, timeout) in [
        (Signal::SIGTERM, 143, None),
        (Signal::SIGINT, 130, Some("2")),
    ] {
        let mut cmd = loci();
        cmd.arg("fetch-wheels")
            .env("WHEELS", &url)
            .env("WHEELS_DEST", &dest);
        if let Some(t) = timeout {
            cmd.env("LOCI_HTTP_READ_TIMEOUT", t);
        }
        let child = cmd.spawn().unwrap();
        // Until loci has extracted all the server sent and waits for more.
        let mut last = (0u64, Instant::now());
        wait_for(
            "the extraction to wait on the server",
            Duration::from_secs(30),
            || {
                let size = staged_bytes(root.path());
                if size != last.0 {
                    last = (size, Instant::now());
                }
                size > 0 && last.1.elapsed() > Duration::from_secs(1)
            },
        );
        let sent = Instant::now();
        kill(Pid::from_raw(child.id() as i32), sig).unwrap();
        let (status, text) = finish(child, Duration::from_secs(30));
        let took = sent.elapsed();
        assert_eq!(status, Some(code), "{sig}: {text}");
        if timeout.is_some() {
            // Unwound by itself at the next read (2 s).
            assert!(
                text.contains(&format!("loci: interrupted by {} (", sig.as_str())),
                "{text}"
            );
            assert!(took < Duration::from_secs(5), "{sig}: {took:?}");
        } else {
            // Stopped itself after its grace time.
            assert!(
                text.contains("still running 10s after the signal: stopping now"),
                "{text}"
            );
            assert!(took < Duration::from_secs(15), "{sig}: {took:?}");
        }
        assert_eq!(
            listing(root.path()),
            Vec::<String>::new(),
            "{sig}: no staging directory, no WHEELS_DEST"
        );
    }
    // The next run starts clean and fetches everything.
    whole.store(true, Ordering::SeqCst);
    let child = loci()
        .arg("fetch-wheels")
        .env("WHEELS", &url)
        .env("WHEELS_DEST", &dest)
        .spawn()
        .unwrap();
    let (status, text) = finish(child, Duration::from_secs(60));
    assert_eq!(status, Some(0), "{text}");
    let mut want: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    want.push("upper-constraints.txt".into());
    want.sort();
    assert_eq!(listing(&dest), want);
    assert_eq!(listing(root.path()), ["wheels"]);
    for (n, d) in &files {
        assert_eq!(&std::fs::read(dest.join(n)).unwrap(), d, "{n}");
    }
}

/// The bytes in the staging directories under `root`.
fn staged_bytes(root: &Path) -> u64 {
    listing(root)
        .iter()
        .filter(|n| n.starts_with(".wheels.loci-partial-"))
        .flat_map(|n| walkdir::WalkDir::new(root.join(n)).into_iter().flatten())
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// The pid of the child of `pid` (strace) that runs loci, once it does.
fn loci_child(pid: u32) -> i32 {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let mut found = 0;
    wait_for("strace to start loci", Duration::from_secs(10), || {
        found = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
            .find(|p| {
                std::fs::read_link(format!("/proc/{p}/exe"))
                    .is_ok_and(|exe| exe == Path::new(env!("CARGO_BIN_EXE_loci")))
            })
            .unwrap_or(0);
        found != 0
    });
    found
}

fn during_a_merge() {
    assert!(
        Path::new("/usr/bin/strace").exists(),
        "this test needs strace: apt-get install strace (tools/setup-host.sh installs it)"
    );
    let files: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| {
            (
                format!("pkg{i:02}-1.0-py3-none-any.whl"),
                wheel::noise(1000, i),
            )
        })
        .collect();
    let root = tempfile::tempdir().unwrap();
    let tarball = root.path().join("wheels.tar.gz");
    std::fs::write(&tarball, wheel::wheels_archive(&files)).unwrap();
    let dest = root.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("old-1.0-py3-none-any.whl"), "old").unwrap();
    // Every rename takes 0.3 s: the merge of 31 entries takes about 9 s.
    let mut cmd = Command::new("/usr/bin/strace");
    cmd.args([
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "-e",
        "trace=rename,renameat,renameat2",
        "-e",
        "inject=rename,renameat,renameat2:delay_enter=300000",
        env!("CARGO_BIN_EXE_loci"),
        "fetch-wheels",
    ])
    .env_clear()
    .env("PATH", "/usr/bin:/bin")
    .env("WHEELS", &tarball)
    .env("WHEELS_DEST", &dest)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let strace = cmd.spawn().unwrap();
    let loci_pid = loci_child(strace.id());
    wait_for("the merge to start", Duration::from_secs(30), || {
        listing(&dest).iter().any(|n| n.starts_with("pkg"))
    });
    kill(Pid::from_raw(loci_pid), Signal::SIGTERM).unwrap();
    let (status, text) = finish(strace, Duration::from_secs(60));
    assert_eq!(status, Some(143), "{text}");
    assert!(text.contains("interrupted by SIGTERM"), "{text}");
    // All or nothing: the merge was finished, and nothing else is there.
    let mut want: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    want.push("old-1.0-py3-none-any.whl".into());
    want.push("upper-constraints.txt".into());
    want.sort();
    assert_eq!(listing(&dest), want, "{text}");
    assert_eq!(listing(root.path()), ["dest", "wheels.tar.gz"]);
}

/// The child mode of [`during_the_pool`]: loci's interrupt handling, then the pool with six
/// stand-ins for `pip wheel`, three at once, each leaving a half-written wheel and a
/// grandchild, and waiting; exits as the binary does.
fn pool_child(work: &Path) -> ! {
    loci::interrupt::install().unwrap();
    let items: Vec<loci::steps::requirements::BuildItem> = (0..6)
        .map(|i| loci::steps::requirements::BuildItem {
            name: format!("p{i}"),
            requirement: format!("p{i}===1.0"),
        })
        .collect();
    let make = |item: &loci::steps::requirements::BuildItem, dir: &Path| {
        let script = format!(
            "echo $$ >> {pids}; sleep 300 & echo $! >> {pids}; echo partial > {dir}/{name}-1.0-py3-none-any.whl; wait",
            pids = work.join("pids").display(),
            dir = dir.display(),
            name = item.name
        );
        loci::process::Cmd::new("sh", ["-c".to_string(), script])
    };
    let result = loci::steps::requirements::run_builds(
        &items,
        &work.join("builds"),
        3,
        &[],
        &make,
        &|r, _, _| println!("finished {}", r.item.name),
    );
    match &result {
        Ok(r) => println!("pool returned {} results", r.len()),
        Err(e) => println!("pool error: {e}"),
    }
    let code = loci::interrupt::exit_code().unwrap_or(if result.is_ok() { 0 } else { 1 });
    std::process::exit(code);
}

fn alive(pid: i32) -> bool {
    // A zombie is not running: it has exited and waits for its parent.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn pids(work: &Path) -> Vec<i32> {
    std::fs::read_to_string(work.join("pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn during_the_pool() {
    let work = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_MODE, work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Three builds running, each with its grandchild.
    wait_for("three builds to start", Duration::from_secs(30), || {
        pids(work.path()).len() >= 6
    });
    let running = pids(work.path());
    assert!(running.iter().all(|p| alive(*p)), "{running:?}");
    let sent = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let (status, text) = finish(child, Duration::from_secs(30));
    // The children end on the forwarded SIGTERM itself, long before they would be killed.
    assert!(
        sent.elapsed() < loci::interrupt::CHILD_GRACE,
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(status, Some(143), "{text}");
    assert!(
        text.contains("pool error: interrupted by SIGTERM"),
        "{text}"
    );
    assert!(
        !text.contains("finished"),
        "no stopped build counts as done: {text}"
    );
    // Nobody left running, no build started after the signal, nothing half-built kept.
    let all = pids(work.path());
    assert_eq!(all.len(), 6, "no build started after the signal: {all:?}");
    wait_for(
        "every child and grandchild to end",
        Duration::from_secs(10),
        || all.iter().all(|p| !alive(*p)),
    );
    let builds = work.path().join("builds");
    let left: Vec<String> = listing(&builds)
        .into_iter()
        .filter(|n| !n.ends_with(".log"))
        .collect();
    assert_eq!(
        left,
        Vec::<String>::new(),
        "the builds' directories are removed"
    );

    // The next run: a build's directory that an earlier run left is emptied first.
    let stale = builds.join("0000-p0");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("p0-0.1-py3-none-any.whl"), "stale").unwrap();
    let items = vec![loci::steps::requirements::BuildItem {
        name: "p0".into(),
        requirement: "p0===1.0".into(),
    }];
    let make = |_: &loci::steps::requirements::BuildItem, _: &Path| {
        loci::process::Cmd::new("true", Vec::<String>::new())
    };
    let results =
        loci::steps::requirements::run_builds(&items, &builds, 1, &[], &make, &|_, _, _| {})
            .unwrap();
    assert_eq!(
        results[0].wheels,
        Vec::<String>::new(),
        "the stale wheel is gone"
    );
}

fn stale_staging() {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("wheels");
    // What a killed run left: an unlocked staging directory, half full.
    let stale = root.path().join(".wheels.loci-partial-killed");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("half.whl"), "half").unwrap();
    // A live run's: locked by another process for the whole test.
    let live = root.path().join(".wheels.loci-partial-live");
    std::fs::create_dir(&live).unwrap();
    let mut holder = Command::new("flock")
        .arg(&live)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    let holder_pid = holder.id();
    wait_for("flock to hold the lock", Duration::from_secs(10), || {
        Command::new("flock")
            .args(["-n", live.to_str().unwrap(), "true"])
            .status()
            .map(|s| !s.success())
            .unwrap_or(false)
    });
    let tarball = root.path().join("w.tar.gz");
    std::fs::write(
        &tarball,
        wheel::wheels_archive(&[("a-1.0-py3-none-any.whl".into(), b"a".to_vec())]),
    )
    .unwrap();
    let out = loci()
        .arg("fetch-wheels")
        .env("WHEELS", &tarball)
        .env("WHEELS_DEST", &dest)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let _ = kill(Pid::from_raw(holder_pid as i32), Signal::SIGTERM);
    let _ = holder.wait();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("removing {}", stale.display())),
        "{text}"
    );
    assert_eq!(
        listing(root.path()),
        [".wheels.loci-partial-live", "w.tar.gz", "wheels"],
        "{text}"
    );
}
