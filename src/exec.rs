//! Executing a plan: a thin layer that walks the steps, runs commands and dispatches in-process
//! actions to the step module that owns them.
//!
//! The build log is the user's interface: each step gets a header and a footer with its
//! duration, every command is echoed before it runs, and its output streams through while the
//! last lines are kept for the error message if it fails.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::Result;
use crate::plan::{Action, Cmd, Plan};
use crate::process::{self, ChildEnv};
use crate::steps;

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
        SystemRunner {
            env: ChildEnv::for_build(&config.proxy_env).added,
        }
    }

    /// The environment policy of this runner's children (see [`crate::process`]).
    pub fn child_env(&self) -> ChildEnv {
        ChildEnv {
            added: self.env.clone(),
        }
    }
}

impl Runner for SystemRunner {
    fn probe(&mut self, cmd: &Cmd) -> Result<String> {
        process::probe(&self.child_env(), cmd)
    }

    fn run(&mut self, cmd: &Cmd) -> Result<()> {
        crate::say!("+ {cmd}");
        let _ = std::io::stdout().flush();
        process::run(&self.child_env(), cmd)
    }

    fn output(&mut self, cmd: &Cmd) -> Result<String> {
        process::output(&self.child_env(), cmd)
    }
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
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_secs(123)), "2m03s");
    }
}
