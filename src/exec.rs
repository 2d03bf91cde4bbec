//! Executing a plan: a thin layer that walks the steps, runs commands and dispatches in-process
//! actions to the step module that owns them.
//!
//! The build log is the user's interface: each step gets a header and a footer with its
//! duration, every command is echoed before it runs, and its output streams through while the
//! last lines are kept for the error message if it fails.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::plan::{Action, Cmd, Plan};
use crate::steps;

/// How many trailing output lines of a failed command are shown in the error.
const TAIL_LINES: usize = 25;

/// Environment variables that must not reach child processes: loci's older build argument
/// PIP_CONSTRAINT (LOCI master's PIP_VERSION_CONSTRAINT) is a version suffix (`<25`), but pip
/// reads PIP_CONSTRAINT as a file name. A command that sets it itself (the build constraints
/// of a requirements build with a pip older than 25.3) keeps its own value.
const SCRUBBED_ENV: &[&str] = &["PIP_CONSTRAINT"];

/// Runs external commands. A trait so that step logic can be tested without a system.
pub trait Runner {
    /// Runs `cmd`, streaming its output to the log; an error on a non-zero exit.
    fn run(&mut self, cmd: &Cmd) -> Result<()>;
    /// Runs `cmd` and returns its standard output; an error on a non-zero exit.
    fn output(&mut self, cmd: &Cmd) -> Result<String>;
    /// Runs a query and returns its standard output whatever the exit status (package
    /// queries exit non-zero when one name is unknown but still answer for the others).
    fn probe(&mut self, cmd: &Cmd) -> Result<String>;
}

/// Runs commands on this machine.
#[derive(Debug, Default)]
pub struct SystemRunner {
    /// Extra environment for every child (the proxy variables, tool settings).
    pub env: Vec<(String, String)>,
}

impl SystemRunner {
    pub fn new(config: &Config) -> Self {
        let mut env = config.proxy_env.clone();
        // Faster, smaller, quieter: no bytecode written during the build, no pip version nag.
        env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
        env.push(("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()));
        env.push(("PIP_NO_CACHE_DIR".into(), "1".into()));
        // As LOCI's scripts: setup.py files read UTF-8 text whatever the image's locale.
        env.push(("LC_CTYPE".into(), "C.UTF-8".into()));
        SystemRunner { env }
    }

    fn command(&self, cmd: &Cmd) -> Command {
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args);
        for k in SCRUBBED_ENV {
            c.env_remove(k);
        }
        for (k, v) in self.env.iter().chain(cmd.env.iter()) {
            c.env(k, v);
        }
        if let Some(dir) = &cmd.cwd {
            c.current_dir(dir);
        }
        c
    }
}

fn spawn_error(cmd: &Cmd, e: std::io::Error) -> Error {
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

fn exit_error(cmd: &Cmd, status: std::process::ExitStatus, tail: &[String]) -> Error {
    let code = match status.code() {
        Some(c) => format!("exit code {c}"),
        None => format!("{status}"),
    };
    let mut e = Error::new(format!("`{cmd}` failed with {code}"));
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

impl Runner for SystemRunner {
    fn probe(&mut self, cmd: &Cmd) -> Result<String> {
        let out = self
            .command(cmd)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| spawn_error(cmd, e))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn run(&mut self, cmd: &Cmd) -> Result<()> {
        crate::say!("+ {cmd}");
        let _ = std::io::stdout().flush();
        let mut child = self
            .command(cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error(cmd, e))?;
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let out = child.stdout.take().map(|s| pump(s, tail.clone(), false));
        let err = child.stderr.take().map(|s| pump(s, tail.clone(), true));
        let status = child.wait().map_err(|e| spawn_error(cmd, e))?;
        for t in [out, err].into_iter().flatten() {
            let _ = t.join();
        }
        if status.success() {
            return Ok(());
        }
        let tail: Vec<String> = tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        Err(exit_error(cmd, status, &tail))
    }

    fn output(&mut self, cmd: &Cmd) -> Result<String> {
        let out = self
            .command(cmd)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| spawn_error(cmd, e))?;
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<String> = text.lines().map(String::from).collect();
            let start = lines.len().saturating_sub(TAIL_LINES);
            return Err(exit_error(cmd, out.status, &lines[start..]));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Copies a child's output to ours line by line, keeping the last lines.
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
                    if stderr {
                        let _ = writeln!(std::io::stderr(), "{line}");
                    } else {
                        crate::say!("{line}");
                    }
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

/// How long each finished step took, for the log and /etc/image_info/image_info.json.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Timings {
    pub steps: Vec<(String, f64)>,
}

/// What the executor remembers across steps.
#[derive(Debug)]
pub struct State {
    /// Whether the package index was refreshed in this build (once is enough).
    pub index_refreshed: bool,
    /// When the build started: the total time, and which files the build wrote.
    pub started: Instant,
    pub started_wall: std::time::SystemTime,
}

impl Default for State {
    fn default() -> Self {
        State {
            index_refreshed: false,
            started: Instant::now(),
            started_wall: std::time::SystemTime::now(),
        }
    }
}

/// What an in-process action works with: the plan it belongs to, the configuration, the runner
/// for its commands, and what the build did so far. One struct instead of a list of arguments
/// that differs from step to step.
pub struct Context<'a> {
    pub plan: &'a Plan,
    pub config: &'a Config,
    pub runner: &'a mut dyn Runner,
    /// The times of the steps that finished.
    pub timings: &'a Timings,
    pub state: &'a mut State,
}

/// Runs every step of `plan` in order.
pub fn execute(plan: &Plan, config: &Config, runner: &mut dyn Runner) -> Result<Timings> {
    let mut timings = Timings::default();
    let mut state = State::default();
    let n = plan.steps.len();
    crate::say!(
        "==> loci {} building {} on {}, stage {} ({} steps)",
        env!("CARGO_PKG_VERSION"),
        plan.project,
        plan.distro.label(),
        plan.stage.name(),
        n
    );
    for (i, step) in plan.steps.iter().enumerate() {
        crate::say!("==> [{}/{n}] {}: {}", i + 1, step.name, step.summary);
        let _ = std::io::stdout().flush();
        let start = Instant::now();
        let mut ctx = Context {
            plan,
            config,
            runner: &mut *runner,
            timings: &timings,
            state: &mut state,
        };
        for action in &step.actions {
            run_action(action, &mut ctx).map_err(|e| e.in_step(step.name))?;
        }
        let took = start.elapsed();
        crate::say!("==> [{}/{n}] {} done in {}", i + 1, step.name, human(took));
        timings
            .steps
            .push((step.name.to_string(), took.as_secs_f64()));
    }
    crate::say!(
        "==> {} built in {}",
        plan.project,
        human(state.started.elapsed())
    );
    Ok(timings)
}

fn run_action(action: &Action, ctx: &mut Context) -> Result<()> {
    let (plan, config) = (ctx.plan, ctx.config);
    match action {
        Action::Run { cmd } => ctx.runner.run(cmd),
        Action::InstallPackages {
            packages, refresh, ..
        } => steps::packages::install(ctx, packages, refresh.as_ref()),
        Action::CheckPackages { packages, refresh } => {
            steps::preflight::check(ctx, packages, refresh.as_ref())
        }
        Action::InstallLibpython { install } => steps::base::install_libpython(install, ctx.runner),
        Action::FetchWheels { source, dest } => {
            steps::wheels::fetch(source, dest, &config.registry, &config.tls)
        }
        Action::PrepareConstraints {
            wheels,
            dir,
            project,
        } => steps::wheels::prepare_constraints(wheels, dir, project),
        Action::FetchConstraints {
            source,
            dir,
            project,
            setuptools,
        } => steps::wheels::fetch_constraints(source, dir, project, setuptools, &config.tls),
        Action::RecordVenvLibraries { venv, out } => {
            steps::libraries::record(venv, out, &plan.distro, ctx.runner)
        }
        Action::InstallListedPackages { file, refresh } => {
            let packages = steps::libraries::read_list(file)?;
            if packages.is_empty() {
                crate::say!("the venv needs no shared library from a package");
                return Ok(());
            }
            steps::packages::install(ctx, &packages, refresh.as_ref())
        }
        Action::CreateUser { user } => steps::user::create(user, ctx.runner),
        Action::GitClone {
            var,
            repo,
            reference,
            dest,
            shallow_no_git,
        } => steps::source::clone(var, repo, reference, dest, *shallow_no_git, &config.tls),
        Action::ProjectHook { hook } => steps::project_specific::run(hook, ctx),
        Action::CopyConfigFiles { from, to } => steps::config_files::copy(from, to),
        Action::CollectInfo { dir } => steps::image_info::collect(dir, ctx),
        Action::FinishInfo { dir } => {
            steps::image_info::finish(dir, config, ctx.timings, ctx.state.started.elapsed())
        }
        Action::ClampMtimes { root, epoch } => {
            let n = steps::seal::clamp_mtimes(root, *epoch, ctx.state.started_wall)?;
            crate::say!("set the time of {n} files and directories to {epoch}");
            Ok(())
        }
        Action::Remove {
            paths,
            contents_only,
        } => steps::cleanup::remove(paths, *contents_only),
        Action::DeleteBytecode { roots } => steps::cleanup::delete_bytecode(roots),
        Action::SystemSitePackages { venv } => steps::cleanup::system_site_packages(venv),
        Action::RequirementsConstraints { spec } => steps::requirements::prepare(spec, config),
        Action::RequirementsWheels { spec } => steps::requirements::build(spec, config),
        Action::PurgeRoot { root } => steps::requirements::purge(root).map(|_| ()),
    }
}

/// `1.2s`, `2m03s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", (s / 60.0) as u64, (s as u64) % 60)
    }
}

/// A runner that records commands instead of running them, for unit tests of step logic.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct RecordingRunner {
    pub commands: Vec<Cmd>,
    /// What `probe` and `output` answer.
    pub answer: String,
}

/// Runs `f` with a context for `distro` (a plan with no steps, PROJECT=keystone's
/// configuration), `runner` and `state`, for unit tests of in-process actions.
#[cfg(test)]
pub(crate) fn with_test_context<R>(
    distro: &crate::distro::Distro,
    runner: &mut dyn Runner,
    state: &mut State,
    f: impl FnOnce(&mut Context) -> R,
) -> R {
    let plan = Plan {
        project: "keystone".into(),
        stage: crate::plan::Stage::Project,
        distro: distro.clone(),
        steps: Vec::new(),
    };
    let env = [("PROJECT".to_string(), "keystone".to_string())].into();
    let config = Config::from_env(&env).expect("PROJECT=keystone is a valid configuration");
    f(&mut Context {
        plan: &plan,
        config: &config,
        runner,
        timings: &Timings::default(),
        state,
    })
}

#[cfg(test)]
impl Runner for RecordingRunner {
    fn run(&mut self, cmd: &Cmd) -> Result<()> {
        self.commands.push(cmd.clone());
        Ok(())
    }
    fn output(&mut self, cmd: &Cmd) -> Result<String> {
        self.commands.push(cmd.clone());
        Ok(self.answer.clone())
    }
    fn probe(&mut self, cmd: &Cmd) -> Result<String> {
        self.commands.push(cmd.clone());
        Ok(self.answer.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_command_reports_exit_code_and_tail() {
        let mut r = SystemRunner::default();
        let cmd = Cmd::new("sh", ["-c", "echo one; echo two >&2; exit 3"]);
        let e = r.run(&cmd).unwrap_err().to_string();
        assert!(e.contains("failed with exit code 3"), "{e}");
        assert!(e.contains("one") && e.contains("two"), "{e}");
    }

    #[test]
    fn missing_program_is_named() {
        let mut r = SystemRunner::default();
        let e = r
            .run(&Cmd::new("loci-no-such-tool", ["x"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`loci-no-such-tool` is not installed"), "{e}");
    }

    #[test]
    fn pip_constraint_is_scrubbed_from_children() {
        let mut r = SystemRunner {
            env: vec![("FROM_RUNNER".into(), "yes".into())],
        };
        // The inherited value is removed from every child's environment (checked on the
        // command, without setting it in this multithreaded test process).
        let c = r.command(&Cmd::new("true", Vec::<String>::new()));
        assert!(
            c.get_envs()
                .any(|(k, v)| k == "PIP_CONSTRAINT" && v.is_none()),
            "{:?}",
            c.get_envs().collect::<Vec<_>>()
        );
        let out = r
            .output(
                &Cmd::new(
                    "sh",
                    ["-c", "echo ${PIP_CONSTRAINT:-unset} $FROM_RUNNER $X"],
                )
                .env("X", "x"),
            )
            .unwrap();
        assert_eq!(out.trim(), "unset yes x");
        // A command's own value (build constraints for an old pip) is passed.
        let out = r
            .output(
                &Cmd::new("sh", ["-c", "echo ${PIP_CONSTRAINT:-unset}"])
                    .env("PIP_CONSTRAINT", "/tmp/build-constraints.txt"),
            )
            .unwrap();
        assert_eq!(out.trim(), "/tmp/build-constraints.txt");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_secs(123)), "2m03s");
    }
}
