//! Interrupts: SIGINT, SIGTERM and SIGHUP stop a build cleanly.
//!
//! [`install`] (called once by the binary, before any thread starts) blocks the three signals
//! in every thread and waits for them on a thread of its own. When one arrives:
//!
//! 1. it is recorded ([`received`]), so that no new child is started ([`track`] refuses), the
//!    loops of the pool, the prefetch and the extraction stop ([`check`]), and the binary exits
//!    with 128 + the signal (130 for SIGINT, 143 for SIGTERM);
//! 2. the same signal is sent to the process group of every running child (each child runs in
//!    a group of its own, so pip's build subprocesses get it too);
//! 3. the code that was running unwinds by its ordinary error path: staging directories and
//!    temporary files are dropped, nothing half-done is moved into place;
//! 4. if it has not ended after [`GRACE`] (a read blocked on a silent server), or a second
//!    signal comes, loci kills the children's groups, removes the staging paths still
//!    registered ([`Staged`]) and exits itself. A [`critical`] section (moving a finished
//!    merge into place) is let finish first.
//!
//! A leaf module: it uses nothing of the crate but [`crate::error`] and [`crate::report`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, SigSet, Signal};
use nix::unistd::Pid;

use crate::error::Error;

/// How long the interrupted code has to unwind by itself.
pub const GRACE: Duration = Duration::from_secs(10);
/// How long children have, after the forwarded signal, before they are killed.
pub const CHILD_GRACE: Duration = Duration::from_secs(5);

static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// The process groups of the running children.
static CHILDREN: Mutex<Vec<i32>> = Mutex::new(Vec::new());
/// Staging paths removed on a forced exit.
static STAGED: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(1);
static CRITICAL: AtomicUsize = AtomicUsize::new(0);

const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// Takes over SIGINT, SIGTERM and SIGHUP for the whole process (see the module
/// documentation). Call it before starting any thread: threads inherit the blocked mask.
pub fn install() -> std::io::Result<()> {
    let mut set = SigSet::empty();
    for s in SIGNALS {
        set.add(s);
    }
    set.thread_block().map_err(std::io::Error::from)?;
    std::thread::Builder::new()
        .name("loci-signals".into())
        .spawn(move || loop {
            match set.wait() {
                Ok(sig) => on_signal(sig),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        })?;
    Ok(())
}

fn on_signal(sig: Signal) {
    let first = RECEIVED
        .compare_exchange(0, sig as i32, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if !first {
        // A second signal: no more waiting.
        log(&format!("loci: {} again: stopping now", sig.as_str()));
        forced_exit();
    }
    log(&format!(
        "loci: {}: stopping the running commands and removing what is half-done",
        sig.as_str()
    ));
    signal_children(sig);
    std::thread::spawn(|| {
        let started = Instant::now();
        while started.elapsed() < GRACE {
            std::thread::sleep(Duration::from_millis(100));
            if started.elapsed() >= CHILD_GRACE {
                signal_children(Signal::SIGKILL);
            }
        }
        log(&format!(
            "loci: still running {} after the signal: stopping now",
            human(GRACE)
        ));
        forced_exit();
    });
}

fn human(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

fn log(line: &str) {
    crate::say!("{line}");
}

fn signal_children(sig: Signal) {
    let groups: Vec<i32> = CHILDREN.lock().map(|c| c.clone()).unwrap_or_default();
    for g in groups {
        let _ = killpg(Pid::from_raw(g), sig);
    }
}

/// Kills the children, removes the registered staging paths and exits with the signal's code.
fn forced_exit() -> ! {
    // A critical section (a rename sequence) is let finish, within reason.
    let started = Instant::now();
    while CRITICAL.load(Ordering::SeqCst) > 0 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_children(Signal::SIGKILL);
    let staged: Vec<PathBuf> = STAGED
        .lock()
        .map(|s| s.iter().map(|(_, p)| p.clone()).collect())
        .unwrap_or_default();
    for p in staged {
        remove(&p);
    }
    std::process::exit(exit_code().unwrap_or(1));
}

fn remove(p: &Path) {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(p);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(p);
        }
        Err(_) => {}
    }
}

/// The signal received, if any.
pub fn received() -> Option<Signal> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        n => Signal::try_from(n).ok(),
    }
}

/// The exit code after an interrupt: 128 + the signal (130 for SIGINT, 143 for SIGTERM).
pub fn exit_code() -> Option<i32> {
    received().map(|s| 128 + s as i32)
}

/// The error of work stopped by `sig`.
pub fn error(sig: Signal) -> Error {
    Error::new(format!("interrupted by {}", sig.as_str()))
}

/// `Err` once a signal was received: loops call it between their items.
pub fn check() -> crate::error::Result<()> {
    match received() {
        Some(sig) => Err(error(sig)),
        None => Ok(()),
    }
}

/// Starts a child with `spawn` (which must put it in a process group of its own) and registers
/// that group, so that an interrupt reaches it; refuses once a signal was received. Call
/// [`untrack`] with the child's id once it was waited for.
pub fn track(
    spawn: impl FnOnce() -> std::io::Result<std::process::Child>,
) -> std::io::Result<std::process::Child> {
    let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(sig) = received() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            format!("interrupted by {}", sig.as_str()),
        ));
    }
    let child = spawn()?;
    children.push(child.id() as i32);
    Ok(child)
}

/// Forgets a child started by [`track`].
pub fn untrack(id: u32) {
    if let Ok(mut c) = CHILDREN.lock() {
        c.retain(|g| *g != id as i32);
    }
}

/// A staging path (a directory or a temporary file) removed if loci has to exit without
/// unwinding; dropping this forgets it (its owner removes or commits it).
pub struct Staged(u64);

impl Staged {
    pub fn new(path: &Path) -> Staged {
        let id = NEXT.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut s) = STAGED.lock() {
            s.push((id, path.to_path_buf()));
        }
        Staged(id)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Ok(mut s) = STAGED.lock() {
            s.retain(|(id, _)| *id != self.0);
        }
    }
}

/// Runs `f` to its end even when a signal comes meanwhile (a forced exit waits for it): for
/// short sequences that must not stop half-way, such as moving a finished merge into place.
pub fn critical<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            CRITICAL.fetch_sub(1, Ordering::SeqCst);
        }
    }
    CRITICAL.fetch_add(1, Ordering::SeqCst);
    let _leave = Leave;
    f()
}
