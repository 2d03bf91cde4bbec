//! Child processes: the one place loci spawns them.
//!
//! - [`Cmd`]: a command as an argument vector (never a shell string), with its own environment
//!   and working directory.
//! - [`ChildEnv`]: the one environment policy of every child. A child inherits loci's
//!   environment (the build arguments reach pip, git and the package managers as they did in
//!   LOCI's shell scripts) except the variables of [`SCRUBBED`]; then it gets the variables
//!   added for the whole build ([`ChildEnv::for_build`]: the proxies, tool settings), then the
//!   command's own, which win (and may set a scrubbed variable again).
//! - [`run`], [`output`], [`probe`], [`run_logged`], [`capture`]: the ways loci runs a child —
//!   streamed to the build log with the last lines kept for the error, captured, or written to
//!   a log file.
//!
//! Every child runs in a process group of its own, registered with [`crate::interrupt`]: an
//! interrupt of loci reaches the child and everything it started (pip's build subprocesses),
//! no child is started after one, and a child whose loci died is sent SIGTERM by the kernel
//! (`PR_SET_PDEATHSIG`), so none is left running behind it.
//!
//! A leaf module: it uses nothing of the crate but [`crate::error`] and [`crate::interrupt`].

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::interrupt;

/// A command as an argument vector, never a shell string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    /// Extra environment for this command only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
}

impl Cmd {
    pub fn new<I, S>(program: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            cwd: None,
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }
}

impl fmt::Display for Cmd {
    /// Renders the command for logs, quoting arguments that need it (display only: commands
    /// are always run as argument vectors).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}={} ", quote(v))?;
        }
        write!(f, "{}", quote(&self.program))?;
        for a in &self.args {
            write!(f, " {}", quote(a))?;
        }
        Ok(())
    }
}

fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%[]<>!~".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// How many trailing output lines of a failed command are shown in the error.
pub const TAIL_LINES: usize = 25;

/// Environment variables of loci's own environment that never reach a child: loci's older
/// build argument PIP_CONSTRAINT (LOCI master's PIP_VERSION_CONSTRAINT) is a version suffix
/// (`<25`), but pip reads PIP_CONSTRAINT as a file name. A command that sets it itself (the
/// build constraints of a requirements build with a pip older than 25.3) keeps its own value.
pub const SCRUBBED: &[&str] = &["PIP_CONSTRAINT"];

/// The environment policy of child processes: see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildEnv {
    /// Added to every child, over the inherited environment (the proxy variables, tool
    /// settings); a command's own variables win over these.
    pub added: Vec<(String, String)>,
}

impl ChildEnv {
    /// The environment of a build's children: the proxy variables of the build arguments, and
    /// the tool settings every command of a build runs with.
    pub fn for_build(proxy_env: &[(String, String)]) -> Self {
        let mut added = proxy_env.to_vec();
        // Faster, smaller, quieter: no bytecode written during the build, no pip version nag.
        added.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
        added.push(("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()));
        added.push(("PIP_NO_CACHE_DIR".into(), "1".into()));
        // As LOCI's scripts: setup.py files read UTF-8 text whatever the image's locale.
        added.push(("LC_CTYPE".into(), "C.UTF-8".into()));
        ChildEnv { added }
    }

    /// The whole environment of `cmd`'s process when loci's own environment is `parent`, in
    /// order (a later value of a name wins, as with `Command::env`).
    pub fn resolve<I, K, V>(&self, parent: I, cmd: &Cmd) -> Vec<(OsString, OsString)>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let mut env: Vec<(OsString, OsString)> = parent
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| !SCRUBBED.iter().any(|s| k == s))
            .collect();
        for (k, v) in self.added.iter().chain(cmd.env.iter()) {
            env.retain(|(name, _)| name != k.as_str());
            env.push((k.into(), v.into()));
        }
        env
    }

    /// A `Command` for `cmd` with this policy over loci's own environment; stdin closed; in a
    /// process group of its own, sent SIGTERM when loci dies. Start it with [`start`].
    pub fn command(&self, cmd: &Cmd) -> Command {
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args)
            .env_clear()
            .envs(self.resolve(std::env::vars_os(), cmd))
            .stdin(Stdio::null())
            .process_group(0);
        let parent = std::process::id();
        // SAFETY: between fork and exec only async-signal-safe calls (sigemptyset,
        // pthread_sigmask, prctl, getppid, _exit).
        unsafe {
            c.pre_exec(move || {
                use nix::libc;
                // loci's threads block the signals its watcher takes (crate::interrupt); the
                // child must get them as any program does. std does not reset the mask.
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                if libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // loci died before the prctl: do not outlive it.
                if libc::getppid() as u32 != parent {
                    libc::_exit(143);
                }
                Ok(())
            });
        }
        if let Some(dir) = &cmd.cwd {
            c.current_dir(dir);
        }
        c
    }
}

/// Starts `command` (made by [`ChildEnv::command`]) as a child an interrupt reaches: see
/// [`crate::interrupt::track`]. Once it was waited for, [`crate::interrupt::untrack`] it.
pub fn start(command: &mut Command) -> std::io::Result<Child> {
    interrupt::track(|| command.spawn())
}

/// Waits for a started child and forgets it.
fn wait(child: &mut Child) -> std::io::Result<ExitStatus> {
    let status = child.wait();
    interrupt::untrack(child.id());
    status
}

/// Runs `command` to its end with its standard output (and, when `stderr` is true, its
/// standard error) captured, as `Command::output` does.
fn collect(command: &mut Command, stderr: bool) -> std::io::Result<Output> {
    command.stdout(Stdio::piped());
    command.stderr(if stderr {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let child = start(command)?;
    let id = child.id();
    let out = child.wait_with_output();
    interrupt::untrack(id);
    out
}

/// The error of a child that could not be started: an interrupt, or [`spawn_error`].
fn start_error(cmd: &Cmd, e: std::io::Error) -> Error {
    match interrupt::received() {
        Some(sig) if e.kind() == std::io::ErrorKind::Interrupted => interrupt::error(sig),
        _ => spawn_error(cmd, e),
    }
}

/// The error of a command that could not be started.
pub fn spawn_error(cmd: &Cmd, e: std::io::Error) -> Error {
    let hint = if e.kind() == std::io::ErrorKind::NotFound {
        format!(
            "`{}` is not installed in this image (or not on PATH)",
            cmd.program
        )
    } else {
        "check that the build runs as root".to_string()
    };
    Error::new(format!("cannot start `{cmd}`"))
        .cause(e)
        .hint(hint)
}

/// `exit code N`, or how the process ended otherwise (a signal).
pub fn describe_status(status: ExitStatus) -> String {
    match status.code() {
        Some(c) => format!("exit code {c}"),
        None => status.to_string(),
    }
}

/// The error of a command that exited non-zero, with the last lines of its output.
pub fn exit_error(cmd: &Cmd, status: ExitStatus, tail: &[String]) -> Error {
    if let Some(line) = tail.iter().find(|l| crate::disk::says_full(l)) {
        return disk_full_error(cmd, status, line, tail);
    }
    let mut e = Error::new(format!("`{cmd}` failed with {}", describe_status(status)));
    if !tail.is_empty() {
        e = e.cause(format!("last lines of its output:\n{}", tail.join("\n")));
    }
    let hint = match cmd.program.as_str() {
        p if p.ends_with("pip") || p.ends_with("python3") => {
            "a package or version may be missing from the wheels: check WHEELS, PIP_PACKAGES and the constraints above"
        }
        "apt-get" | "dnf" | "yum" => "a package name may not exist in this distro release, or the package mirror is unreachable",
        _ => "see the command's output above",
    };
    e.hint(hint)
}

/// The error of a command that ran out of disk space (`line` of its output says so): the
/// space left where it writes (the path its message names, its absolute arguments, its working
/// and temporary directories).
fn disk_full_error(cmd: &Cmd, status: ExitStatus, line: &str, tail: &[String]) -> Error {
    // The paths the message names, the last (where it was writing) first: pip's
    // `[Errno 28] No space left on device: '/var/lib/openstack/...'`, uv's `failed to copy file
    // from /root/.cache/... to /var/lib/openstack/...: No space left on device (os error 28)`.
    let mut paths: Vec<PathBuf> = line
        .split(|c: char| c.is_whitespace() || c == '\'' || c == '"' || c == '`')
        .map(|w| w.trim_end_matches([':', ',', ')', ';']))
        .filter(|w| w.starts_with('/') && w.len() > 1)
        .map(PathBuf::from)
        .rev()
        .collect();
    let tmp = std::env::var_os("TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    paths.extend(
        std::iter::once(cmd.program.as_str())
            .chain(cmd.args.iter().map(String::as_str))
            .filter(|a| a.starts_with('/'))
            .map(PathBuf::from),
    );
    paths.extend(cmd.cwd.clone());
    paths.push(tmp);
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    Error::new(format!(
        "`{cmd}` failed with {}: the disk is full",
        describe_status(status)
    ))
    .cause(format!(
        "{}\n{}\nlast lines of its output:\n{}",
        line.trim(),
        crate::disk::free_report(&refs),
        tail.join("\n")
    ))
    .hint("free space on that filesystem (docker builder prune, docker system prune), or give the build more room (a bigger --tmpfs, another disk), and run it again")
}

/// Runs `cmd`, streaming its output to ours line by line; an error on a non-zero exit, with
/// the last [`TAIL_LINES`] lines of its output.
pub fn run(env: &ChildEnv, cmd: &Cmd) -> Result<()> {
    let mut child = start(
        env.command(cmd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .map_err(|e| start_error(cmd, e))?;
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
    let out = child.stdout.take().map(|s| pump(s, tail.clone(), false));
    let err = child.stderr.take().map(|s| pump(s, tail.clone(), true));
    let status = wait(&mut child).map_err(|e| spawn_error(cmd, e))?;
    for t in [out, err].into_iter().flatten() {
        let _ = t.join();
    }
    if status.success() {
        return Ok(());
    }
    if let Some(sig) = interrupt::received() {
        return Err(interrupt::error(sig).cause(format!("`{cmd}` was stopped")));
    }
    let tail: Vec<String> = tail
        .lock()
        .map(|t| t.iter().cloned().collect())
        .unwrap_or_default();
    Err(exit_error(cmd, status, &tail))
}

/// Runs `cmd` and returns its standard output; an error on a non-zero exit, with the last
/// lines of its standard error.
pub fn output(env: &ChildEnv, cmd: &Cmd) -> Result<String> {
    let out = collect(&mut env.command(cmd), true).map_err(|e| start_error(cmd, e))?;
    if !out.status.success() {
        if let Some(sig) = interrupt::received() {
            return Err(interrupt::error(sig).cause(format!("`{cmd}` was stopped")));
        }
        let text = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<String> = text.lines().map(String::from).collect();
        let start = lines.len().saturating_sub(TAIL_LINES);
        return Err(exit_error(cmd, out.status, &lines[start..]));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a query and returns its standard output whatever the exit status; its standard error
/// is discarded.
pub fn probe(env: &ChildEnv, cmd: &Cmd) -> Result<String> {
    let out = collect(&mut env.command(cmd), false).map_err(|e| start_error(cmd, e))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What a captured child left: its exit status and both outputs.
#[derive(Debug)]
pub struct Captured {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` and returns its status and outputs whatever the status; an error only when it
/// cannot be started (the raw I/O error, for callers that word it their own way).
pub fn capture(env: &ChildEnv, cmd: &Cmd) -> std::io::Result<Captured> {
    let out = collect(&mut env.command(cmd), true)?;
    Ok(Captured {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs `cmd` with both outputs written to the file `log` (which starts with `+ cmd`), for
/// builds that run side by side and must not mix their output.
pub fn run_logged(env: &ChildEnv, cmd: &Cmd, log: &Path) -> std::io::Result<ExitStatus> {
    let mut file = std::fs::File::create(log)?;
    writeln!(file, "+ {cmd}")?;
    let mut child = start(env.command(cmd).stdout(file.try_clone()?).stderr(file))?;
    wait(&mut child)
}

/// Copies a child's output to ours line by line, keeping the last lines. A closed or full
/// stdout loses the line rather than failing the build.
fn pump<R: Read + Send + 'static>(
    r: R,
    tail: Arc<Mutex<VecDeque<String>>>,
    stderr: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\n', '\r']);
                    crate::report::child_line(stderr, line);
                    if let Ok(mut t) = tail.lock() {
                        if t.len() == TAIL_LINES {
                            t.pop_front();
                        }
                        t.push_back(line.to_string());
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn resolved(env: &ChildEnv, parent: &[(&str, &str)], cmd: &Cmd) -> Vec<(String, String)> {
        env.resolve(pairs(parent), cmd)
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn children_inherit_all_but_the_scrubbed_variables() {
        let parent = [
            ("PATH", "/usr/bin"),
            ("PIP_CONSTRAINT", "<25"),
            ("PIP_INDEX_URL", "https://mirror/simple"),
        ];
        let env = resolved(&ChildEnv::default(), &parent, &Cmd::new("pip", ["x"]));
        assert_eq!(
            env,
            pairs(&[
                ("PATH", "/usr/bin"),
                ("PIP_INDEX_URL", "https://mirror/simple")
            ])
        );
    }

    #[test]
    fn added_variables_override_inherited_and_the_command_overrides_both() {
        let env = ChildEnv {
            added: pairs(&[("HTTP_PROXY", "http://proxy:3128"), ("LC_CTYPE", "C.UTF-8")]),
        };
        let parent = [("LC_CTYPE", "POSIX"), ("HOME", "/root")];
        let cmd = Cmd::new("pip", ["x"]).env("HTTP_PROXY", "");
        assert_eq!(
            resolved(&env, &parent, &cmd),
            pairs(&[
                ("HOME", "/root"),
                ("LC_CTYPE", "C.UTF-8"),
                ("HTTP_PROXY", "")
            ])
        );
    }

    #[test]
    fn a_command_may_set_a_scrubbed_variable_itself() {
        let cmd = Cmd::new("pip", ["wheel"]).env("PIP_CONSTRAINT", "/tmp/build-constraints.txt");
        let env = resolved(
            &ChildEnv::default(),
            &[("PIP_CONSTRAINT", "<25"), ("A", "1")],
            &cmd,
        );
        assert_eq!(
            env,
            pairs(&[("A", "1"), ("PIP_CONSTRAINT", "/tmp/build-constraints.txt")])
        );
    }

    #[test]
    fn a_build_adds_its_tool_settings_after_the_proxies() {
        let env = ChildEnv::for_build(&pairs(&[("https_proxy", "http://p:3128")]));
        let names: Vec<&str> = env.added.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "https_proxy",
                "PYTHONDONTWRITEBYTECODE",
                "PIP_DISABLE_PIP_VERSION_CHECK",
                "PIP_NO_CACHE_DIR",
                "LC_CTYPE"
            ]
        );
    }

    #[test]
    fn the_child_gets_exactly_the_resolved_environment() {
        let env = ChildEnv {
            added: pairs(&[("FROM_RUNNER", "yes")]),
        };
        let cmd = Cmd::new(
            "sh",
            ["-c", "echo ${PIP_CONSTRAINT:-unset} $FROM_RUNNER $X"],
        )
        .env("X", "x");
        assert_eq!(output(&env, &cmd).unwrap().trim(), "unset yes x");
    }

    #[test]
    fn logged_runs_write_the_command_and_both_outputs() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("a.log");
        let status = run_logged(
            &ChildEnv::default(),
            &Cmd::new("sh", ["-c", "echo out; echo err >&2; exit 4"]),
            &log,
        )
        .unwrap();
        assert_eq!(describe_status(status), "exit code 4");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.starts_with("+ sh -c "), "{text}");
        assert!(text.contains("out\n") && text.contains("err\n"), "{text}");
    }

    #[test]
    fn children_start_with_no_blocked_signal_in_a_group_of_their_own() {
        // As under loci's interrupt watcher: this thread blocks SIGTERM and SIGINT.
        let mut set = nix::sys::signal::SigSet::empty();
        set.add(nix::sys::signal::Signal::SIGTERM);
        set.add(nix::sys::signal::Signal::SIGINT);
        set.thread_block().unwrap();
        let out = output(
            &ChildEnv::default(),
            &Cmd::new(
                "sh",
                ["-c", "exec awk '/^SigBlk/ {print $2}' /proc/self/status"],
            ),
        );
        let group = output(
            &ChildEnv::default(),
            &Cmd::new("sh", ["-c", "exec awk '{print $1, $5}' /proc/self/stat"]),
        );
        set.thread_unblock().unwrap();
        assert_eq!(out.unwrap().trim(), "0000000000000000");
        let group = group.unwrap();
        let ids: Vec<&str> = group.split_whitespace().collect();
        assert_eq!(ids.len(), 2, "{group}");
        assert_eq!(ids[0], ids[1], "the child leads its own process group");
    }

    #[test]
    fn a_child_out_of_space_is_named_by_the_path_it_wrote() {
        use std::os::unix::process::ExitStatusExt;
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("site-packages/rpds/.tmpUalpcz");
        let line = format!(
            "  cause: failed to copy file from /nonexistent/cache/x.so to {}: No space left on device (os error 28)",
            target.display()
        );
        let e = exit_error(
            &Cmd::new("/usr/bin/uv", ["pip", "install"]),
            ExitStatus::from_raw(2 << 8),
            &["Resolved 97 packages".into(), line],
        )
        .to_string();
        assert!(
            e.contains("failed with exit code 2: the disk is full"),
            "{e}"
        );
        assert!(
            e.contains(&format!(" free on the filesystem of {}", target.display()))
                || e.contains(&format!(" on that of {}", target.display())),
            "{e}"
        );
        assert!(
            e.contains("last lines of its output:\n    Resolved 97 packages"),
            "{e}"
        );
    }

    #[test]
    fn captured_runs_keep_status_and_both_outputs() {
        let c = capture(
            &ChildEnv::default(),
            &Cmd::new("sh", ["-c", "echo out; echo err >&2; exit 1"]),
        )
        .unwrap();
        assert_eq!(c.status.code(), Some(1));
        assert_eq!((c.stdout.as_str(), c.stderr.as_str()), ("out\n", "err\n"));
    }
}
