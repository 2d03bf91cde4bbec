//! The build plan as data: ordered steps, each a list of actions with resolved inputs.
//!
//! This module is vocabulary, a leaf of the crate: it names what a build does ([`Plan`],
//! [`Step`], [`Action`] and the actions of each step module, [`Hook`], the requirements
//! specs) and imports nothing that plans or runs. Planning lives in `steps` (from the
//! [`PlanInput`]: the [`Config`], the [`Distro`], the stage and the dependency files, without
//! changing anything, so `loci plan` prints it on any host); how each action is shown and
//! what it does live in the step module that owns it; `exec` walks the steps.

use std::fmt;

use serde::Serialize;

use crate::config::Config;
use crate::distro::Distro;
use crate::host::Host;
pub use crate::process::Cmd;

pub mod action;
pub mod hook;
pub mod requirements;
pub mod user;

pub use action::*;
pub use hook::{Deb, Hook, HorizonHook, KeystoneHook, NovaHook, SkylineHook};
pub use user::User;

/// One step of the build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Short name used in logs, errors and image_info.json (`base`, `wheels`, `install`, ...).
    pub name: &'static str,
    /// One line saying what the step is for.
    pub summary: String,
    /// Packages this step installs, when it installs any (also inside `actions`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    pub actions: Vec<Action>,
}

impl Step {
    pub fn new(name: &'static str, summary: impl Into<String>) -> Self {
        Step {
            name,
            summary: summary.into(),
            packages: Vec::new(),
            actions: Vec::new(),
        }
    }

    pub fn action(mut self, a: impl Into<Action>) -> Self {
        self.actions.push(a.into());
        self
    }

    pub fn run(self, cmd: Cmd) -> Self {
        self.action(Action::Run { cmd })
    }
}

/// The whole build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub project: String,
    pub stage: Stage,
    pub distro: Distro,
    pub steps: Vec<Step>,
}

impl Plan {
    /// The step with this name, if the plan has it.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Every command of the plan, in order.
    pub fn commands(&self) -> impl Iterator<Item = &Cmd> {
        self.steps
            .iter()
            .flat_map(|s| s.actions.iter())
            .filter_map(|a| match a {
                Action::Run { cmd } => Some(cmd),
                _ => None,
            })
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "plan for {} on {} (stage {})",
            self.project,
            self.distro.label(),
            self.stage.name()
        )?;
        let n = self.steps.len();
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "[{}/{n}] {}: {}", i + 1, step.name, step.summary)?;
            if !step.packages.is_empty() {
                writeln!(f, "    packages: {}", step.packages.join(" "))?;
            }
            for a in &step.actions {
                writeln!(f, "    {a}")?;
            }
        }
        Ok(())
    }
}

/// Which part of a build to plan: the Dockerfile's targets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The whole image in one stage (target `project`, LOCI's); PROJECT=requirements builds
    /// the requirements image.
    #[default]
    Project,
    /// The requirements image (target `requirements`): PROJECT must be `requirements`.
    Requirements,
    /// Two-stage build, first stage (target `builder`): the venv in /var/lib/openstack, built with
    /// whatever it needs (compilers and -dev packages when there are no wheels), and the build
    /// facts in /etc/image_info. Only those two directories are kept.
    Builder,
    /// Two-stage build, final stage (target `runtime`): over the builder's venv and facts, the
    /// run-time packages (bindep's and those providing the venv's shared libraries), the user,
    /// the project-specific files, /etc/image_info and the cleanup.
    Runtime,
}

impl Stage {
    /// Every stage, in the Dockerfile's order.
    pub const ALL: [Stage; 4] = [
        Stage::Project,
        Stage::Requirements,
        Stage::Builder,
        Stage::Runtime,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Project => "project",
            Stage::Requirements => "requirements",
            Stage::Builder => "builder",
            Stage::Runtime => "runtime",
        }
    }
}

/// The inputs of planning besides the configuration: the distro and the dependency files.
pub struct PlanInput<'a> {
    pub config: &'a Config,
    /// The part of the build to plan (the Dockerfile's target).
    pub stage: Stage,
    pub distro: &'a Distro,
    /// The machine the build runs on (CPU count, architecture): this one for a build, a
    /// fixed [`Host::nominal`] for a plan of another (`loci plan --os-release`).
    pub host: Host,
    /// bindep files (`/opt/loci/bindep*`), as (name, text).
    pub bindep_files: Vec<(String, String)>,
    /// pydep files (`/opt/loci/pydep*`), as (name, text).
    pub pydep_files: Vec<(String, String)>,
}

impl<'a> PlanInput<'a> {
    /// The input of a plan of `config` on `distro`: the whole image in one stage, on this
    /// machine, without dependency files (the methods below set each).
    pub fn new(config: &'a Config, distro: &'a Distro) -> Self {
        PlanInput {
            config,
            stage: Stage::Project,
            distro,
            host: Host::detect(),
            bindep_files: Vec::new(),
            pydep_files: Vec::new(),
        }
    }

    /// The part of the build to plan.
    pub fn stage(mut self, stage: Stage) -> Self {
        self.stage = stage;
        self
    }

    /// The machine the plan is for.
    pub fn host(mut self, host: Host) -> Self {
        self.host = host;
        self
    }

    /// One more bindep file (name, text).
    pub fn bindep(mut self, name: &str, text: &str) -> Self {
        self.bindep_files.push((name.into(), text.into()));
        self
    }

    /// One more pydep file (name, text).
    pub fn pydep(mut self, name: &str, text: &str) -> Self {
        self.pydep_files.push((name.into(), text.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_display_quoted_for_humans() {
        let c = Cmd::new("pip", ["install", "keystone[ldap]", "a b", "it's"]).env("X", "1");
        assert_eq!(
            c.to_string(),
            "X=1 pip install keystone[ldap] 'a b' 'it'\\''s'"
        );
    }
}
