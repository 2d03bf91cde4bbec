//! What an in-process action runs with: the [`Runner`] of external commands (on this machine,
//! or recording them in tests), the build's [`State`] and [`Timings`], and the [`Context`] that
//! bundles them with the plan and the configuration. A leaf below the steps: the steps use it,
//! and [`crate::exec`], which dispatches into the steps, builds it, so no step imports the
//! module that calls it.

use std::time::Instant;

use crate::config::Config;
use crate::error::Result;
use crate::plan::{Cmd, Plan};
use crate::process::{self, ChildEnv};

/// Runs external commands. A trait so that step logic can be tested without a system.
pub trait Runner {
    /// Runs `cmd`, streaming its output to the log; an error on a non-zero exit.
    fn run(&mut self, cmd: &Cmd) -> Result<()>;
    /// Runs `cmd` and returns its standard output; an error on a non-zero exit.
    fn output(&mut self, cmd: &Cmd) -> Result<String>;
    /// Runs a query and returns its standard output whatever the exit status (package
    /// queries exit non-zero when one name is unknown but still answer for the others).
    fn probe(&mut self, cmd: &Cmd) -> Result<String>;
    /// The environment this runner adds to its children: for commands that run in parallel
    /// on [`crate::process`] directly (the requirements build's `pip wheel` pool), with the
    /// same environment as the runner's own.
    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
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
        crate::report::flush();
        process::run(&self.child_env(), cmd)
    }

    fn output(&mut self, cmd: &Cmd) -> Result<String> {
        process::output(&self.child_env(), cmd)
    }

    fn env(&self) -> Vec<(String, String)> {
        self.env.clone()
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
    /// The distro packages this build installed (not those it found installed).
    pub installed_here: Vec<String>,
    /// When the build started: the total time, and which files the build wrote.
    pub started: Instant,
    pub started_wall: std::time::SystemTime,
    /// Clones started before the first step, by destination (`steps::source::start_early`).
    early_clones: Vec<(std::path::PathBuf, EarlyClone)>,
}

/// A clone running in a thread of its own: what it says when done, or why it failed.
#[derive(Debug)]
pub struct EarlyClone {
    pub handle: std::thread::JoinHandle<Result<String>>,
}

impl State {
    /// Records a clone into `dest` started in the background.
    pub fn add_early_clone(
        &mut self,
        dest: std::path::PathBuf,
        handle: std::thread::JoinHandle<Result<String>>,
    ) {
        self.early_clones.push((dest, EarlyClone { handle }));
    }

    /// Every clone started in the background that no step took yet.
    pub fn take_early_clones(&mut self) -> Vec<(std::path::PathBuf, EarlyClone)> {
        std::mem::take(&mut self.early_clones)
    }

    /// The clone into `dest` started in the background, if any (for its step to wait for).
    pub fn take_early_clone(&mut self, dest: &std::path::Path) -> Option<EarlyClone> {
        let i = self.early_clones.iter().position(|(d, _)| d == dest)?;
        Some(self.early_clones.remove(i).1)
    }
}

impl Default for State {
    fn default() -> Self {
        State {
            index_refreshed: false,
            installed_here: Vec::new(),
            started: Instant::now(),
            started_wall: std::time::SystemTime::now(),
            early_clones: Vec::new(),
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

/// Runs `f` with a context of its own (no step has run yet): for an action run outside a
/// build, as `loci` subcommands and tests do.
pub fn with_context<R>(
    plan: &Plan,
    config: &Config,
    runner: &mut dyn Runner,
    f: impl FnOnce(&mut Context) -> R,
) -> R {
    let timings = Timings::default();
    let mut state = State::default();
    f(&mut Context {
        plan,
        config,
        runner,
        timings: &timings,
        state: &mut state,
    })
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
}
