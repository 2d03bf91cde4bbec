//! Parallel `pip wheel` runs: a fixed number of workers, each build into a directory of its
//! own with its output in a log file, every failure collected.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Context, Error, Result};
use crate::plan::Cmd;
use crate::process::{self, ChildEnv};

/// Installs the deferred build packages before the first build (once: the install skips
/// what is installed).
pub fn install_build_packages(
    install: Option<&crate::plan::requirements::BuildPackages>,
    ctx: &mut crate::runner::Context,
    why: &str,
) -> Result<()> {
    if let Some(b) = install {
        crate::say!("build packages ({}): {why}", b.packages.len());
        crate::steps::packages::install(ctx, &b.packages, b.refresh.as_ref())?;
    }
    Ok(())
}

/// A command run beside the rest of the step (the venv toolchain's download, while the
/// prefetch reads pip's settings and looks the constraints up): its standard output captured,
/// its result and duration taken by [`Beside::wait`].
pub struct Beside {
    handle: std::thread::JoinHandle<(Result<String>, Duration)>,
}

impl Beside {
    /// Starts `cmd` with the environment `env` added (the runner's).
    pub fn start(cmd: &Cmd, env: &[(String, String)]) -> Beside {
        let (cmd, env) = (
            cmd.clone(),
            ChildEnv {
                added: env.to_vec(),
            },
        );
        Beside {
            handle: std::thread::spawn(move || {
                let t = Instant::now();
                (process::output(&env, &cmd), t.elapsed())
            }),
        }
    }

    /// Waits for it: its output or its error, and how long it ran.
    pub fn wait(self) -> (Result<String>, Duration) {
        self.handle.join().unwrap_or_else(|_| {
            (
                Err(Error::new("a command run beside the step panicked")),
                Duration::ZERO,
            )
        })
    }
}

/// How many output lines of a failed `pip wheel` are shown.
pub(super) const FAILURE_TAIL: usize = 15;

/// One thing to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildItem {
    /// The normalised project name.
    pub name: String,
    /// The argument given to `pip wheel` (a constraint line, a name, a URL or a directory).
    pub requirement: String,
}

/// The outcome of one `pip wheel`.
#[derive(Debug)]
pub struct BuildResult {
    pub item: BuildItem,
    /// The wheels it left in its directory (file names).
    pub wheels: Vec<String>,
    pub dir: PathBuf,
    pub log: String,
    /// `None` on success, else how it failed.
    pub failure: Option<String>,
    pub seconds: f64,
}

/// Runs `make_cmd` for every item, `jobs` at a time, each into `work/<n>` with its output in
/// `work/<n>.log`; the environment of every child is `env` plus the command's own.
///
/// A build's directory is emptied before it starts (what an earlier, interrupted run left
/// there is never taken for its result). After an interrupt no build starts, the running ones
/// are stopped (by [`crate::interrupt`]), their directories are removed, and the interrupt is
/// the error.
pub fn run_builds(
    items: &[BuildItem],
    work: &Path,
    jobs: usize,
    env: &[(String, String)],
    make_cmd: &(dyn Fn(&BuildItem, &Path) -> Cmd + Sync),
    on_done: &(dyn Fn(&BuildResult, usize, usize) + Sync),
) -> Result<Vec<BuildResult>> {
    fs::create_dir_all(work).context(|| format!("cannot create {}", work.display()))?;
    let env = ChildEnv {
        added: env.to_vec(),
    };
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<BuildResult>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    let total = items.len();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(total.max(1)) {
            s.spawn(|| loop {
                if crate::interrupt::received().is_some() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    break;
                }
                let item = &items[i];
                let dir = work.join(format!("{i:04}-{}", item.name));
                let r = build_one(item, &dir, &env, make_cmd);
                if crate::interrupt::received().is_some() {
                    // Stopped half-way: nothing of it is a result.
                    let _ = fs::remove_dir_all(&dir);
                    break;
                }
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                on_done(&r, n, total);
                if let Ok(mut v) = results.lock() {
                    v[i] = Some(r);
                }
            });
        }
    });
    crate::interrupt::check()?;
    Ok(results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect())
}

fn build_one(
    item: &BuildItem,
    dir: &Path,
    env: &ChildEnv,
    make_cmd: &dyn Fn(&BuildItem, &Path) -> Cmd,
) -> BuildResult {
    let start = Instant::now();
    let cmd = make_cmd(item, dir);
    let log_path = dir.with_extension("log");
    let mut result = BuildResult {
        item: item.clone(),
        wheels: Vec::new(),
        dir: dir.to_path_buf(),
        log: String::new(),
        failure: None,
        seconds: 0.0,
    };
    let status = match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => fs::create_dir_all(dir),
    }
    .and_then(|()| process::run_logged(env, &cmd, &log_path));
    result.log = fs::read_to_string(&log_path).unwrap_or_default();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => result.failure = Some(process::describe_status(s)),
        Err(e) => result.failure = Some(format!("cannot run `{}`: {e}", cmd.program)),
    }
    if let Ok(entries) = fs::read_dir(dir) {
        let mut wheels: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".whl"))
            .collect();
        wheels.sort();
        result.wheels = wheels;
    }
    result.seconds = start.elapsed().as_secs_f64();
    result
}

/// The last lines of a log.
pub(super) fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One error naming every failed build, with the last lines of each one's output.
pub fn failures_error(results: &[BuildResult], what: &str, work: &Path) -> Option<Error> {
    let failed: Vec<&BuildResult> = results.iter().filter(|r| r.failure.is_some()).collect();
    if failed.is_empty() {
        return None;
    }
    let names: Vec<&str> = failed.iter().map(|r| r.item.requirement.as_str()).collect();
    let mut cause = String::new();
    for r in &failed {
        cause.push_str(&format!(
            "{} ({}), last lines of its output:\n{}\n",
            r.item.requirement,
            r.failure.as_deref().unwrap_or(""),
            tail(&r.log, FAILURE_TAIL)
                .lines()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    let full: Vec<&str> = failed
        .iter()
        .filter(|r| r.log.lines().any(crate::disk::says_full))
        .map(|r| r.item.requirement.as_str())
        .collect();
    if !full.is_empty() {
        let tmp = std::env::var_os("TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        return Some(
            Error::new(format!(
                "{} of {} {what} failed to build: {}; the disk is full",
                failed.len(),
                results.len(),
                names.join(", ")
            ))
            .cause(format!(
                "{} ran out of space: {}\n{cause}",
                full.join(", "),
                crate::disk::free_report(&[work, &tmp])
            ))
            .hint(format!(
                "free space on that filesystem (docker builder prune, docker system prune), or give the build more room, and run it again; \
                 only whole wheels were kept; full logs are in {}",
                work.display()
            )),
        );
    }
    Some(
        Error::new(format!(
            "{} of {} {what} failed to build: {}",
            failed.len(),
            results.len(),
            names.join(", ")
        ))
        .cause(cause)
        .hint(format!(
            "a missing -dev package belongs in bindep.txt (profile `requirements`); a constraint that cannot build here can be \
             left out with REQUIREMENTS_ONLY/REQUIREMENTS_ONLY_FILE; full logs are in {}",
            work.display()
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraints::{line_name, normalize};
    use crate::steps::requirements::select_wheels;

    #[test]
    fn failures_are_aggregated_with_their_output() {
        let item = |r: &str| BuildItem {
            name: normalize(line_name(r).unwrap()),
            requirement: r.into(),
        };
        let results = vec![
            BuildResult {
                item: item("a===1"),
                wheels: vec![],
                dir: "/w/0".into(),
                log: "ERROR: No matching distribution found for a===1\n".into(),
                failure: Some("exit code 1".into()),
                seconds: 1.0,
            },
            BuildResult {
                item: item("six===1.17.0"),
                wheels: vec!["six-1.17.0-py2.py3-none-any.whl".into()],
                dir: "/w/1".into(),
                log: String::new(),
                failure: None,
                seconds: 1.0,
            },
            BuildResult {
                item: item("b===2"),
                wheels: vec![],
                dir: "/w/2".into(),
                log: "error: subprocess-exited-with-error\n".into(),
                failure: Some("exit code 1".into()),
                seconds: 1.0,
            },
        ];
        let e = failures_error(&results, "wheels", Path::new("/w"))
            .unwrap()
            .to_string();
        assert!(
            e.contains("2 of 3 wheels failed to build: a===1, b===2"),
            "{e}"
        );
        assert!(
            e.contains("No matching distribution found for a===1"),
            "{e}"
        );
        assert!(e.contains("subprocess-exited-with-error"), "{e}");
        assert!(failures_error(&results[1..2], "wheels", Path::new("/w")).is_none());
    }

    #[test]
    fn a_build_that_ran_out_of_space_says_so() {
        // A stand-in for `pip wheel` writing into a full disk (/dev/full).
        let d = tempfile::tempdir().unwrap();
        let items = vec![BuildItem {
            name: "big".into(),
            requirement: "big===1.0".into(),
        }];
        let make = |_: &BuildItem, _: &Path| {
            Cmd::new(
                "sh",
                ["-c", "echo data > /dev/full || { echo 'OSError: [Errno 28] No space left on device' >&2; exit 1; }"],
            )
        };
        let results = run_builds(&items, d.path(), 1, &[], &make, &|_, _, _| {}).unwrap();
        let e = failures_error(&results, "wheels", d.path())
            .unwrap()
            .to_string();
        assert!(
            e.contains("1 of 1 wheels failed to build: big===1.0; the disk is full"),
            "{e}"
        );
        assert!(
            e.contains("big===1.0 ran out of space: ") && e.contains(" free on the filesystem of "),
            "{e}"
        );
        assert!(e.contains("only whole wheels were kept"), "{e}");
    }

    #[test]
    fn builds_run_at_the_same_time() {
        let d = tempfile::tempdir().unwrap();
        let items: Vec<BuildItem> = ["a", "b"]
            .iter()
            .map(|n| BuildItem {
                name: n.to_string(),
                requirement: n.to_string(),
            })
            .collect();
        // Each stand-in announces itself, then succeeds only if the other one shows up within
        // five seconds: one after the other, both would fail.
        let marks = d.path().join("marks");
        std::fs::create_dir_all(&marks).unwrap();
        let make = |item: &BuildItem, _dir: &Path| {
            let other = if item.name == "a" { "b" } else { "a" };
            let script = format!(
                "touch {m}/{me}; i=0; while [ $i -lt 50 ]; do [ -e {m}/{other} ] && exit 0; sleep 0.1; i=$((i+1)); done; exit 1",
                m = marks.display(),
                me = item.name
            );
            Cmd::new("sh", ["-c".to_string(), script])
        };
        let results =
            run_builds(&items, &d.path().join("work"), 2, &[], &make, &|_, _, _| {}).unwrap();
        assert!(results.iter().all(|r| r.failure.is_none()), "{results:?}");
    }

    #[test]
    fn parallel_builds_run_every_item_and_record_failures() {
        let d = tempfile::tempdir().unwrap();
        let items: Vec<BuildItem> = (0..5)
            .map(|i| BuildItem {
                name: format!("p{i}"),
                requirement: format!("p{i}"),
            })
            .collect();
        // A stand-in for pip: writes a wheel into its dir, fails for p3.
        let make = |item: &BuildItem, dir: &Path| {
            let script = if item.name == "p3" {
                "echo broken >&2; exit 2".to_string()
            } else {
                format!("echo 'Created wheel for {0}: filename={0}-1-py3-none-any.whl size=1' && touch \"$1/{0}-1-py3-none-any.whl\"", item.name)
            };
            Cmd::new(
                "sh",
                [
                    "-c".to_string(),
                    script,
                    "sh".into(),
                    dir.display().to_string(),
                ],
            )
        };
        let seen = AtomicUsize::new(0);
        let results = run_builds(&items, d.path(), 3, &[], &make, &|_, _, _| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 5);
        assert_eq!(results.len(), 5);
        let failed: Vec<&str> = results
            .iter()
            .filter(|r| r.failure.is_some())
            .map(|r| r.item.name.as_str())
            .collect();
        assert_eq!(failed, ["p3"]);
        assert!(results[3].log.contains("broken"));
        assert_eq!(results[0].wheels, ["p0-1-py3-none-any.whl"]);
        assert_eq!(
            select_wheels(&results[0].wheels, &results[0].log, false)
                .0
                .len(),
            1
        );
    }
}
