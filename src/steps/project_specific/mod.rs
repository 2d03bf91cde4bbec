//! Step `project`: the extra work some services need after the pip install, as LOCI's
//! `scripts/project_specific/PROJECT/*` do it.
//!
//! | project  | what                                                                         |
//! |----------|------------------------------------------------------------------------------|
//! | nova     | noVNC and spice-html5 web consoles; the tss user swtpm runs as (step         |
//! |          | `project-users`, before the packages)                                        |
//! | horizon  | manage.py, plugin panels, local_settings.py, compiled messages, static files |
//! | keystone | with PROFILES=mod_oauth2 on Debian/Ubuntu x86_64: Apache's oauth2 module     |
//! | skyline-apiserver | its web console, skyline-console, pip-installed into the venv       |
//!
//! `plan` spells out every clone, command and file operation; the in-process parts are
//! [`Action::ProjectHook`]s that [`run`] dispatches to the project's module.
//!
//! In a two-stage build, what installs into the venv (skyline's console) runs in the builder
//! stage, where the venv, the wheels and the constraints are; everything else in the runtime
//! stage.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::plan::{Plan, PlanInput, Stage, Step};

pub mod horizon;
pub mod keystone;
pub mod nova;
pub mod skyline;

#[cfg(doc)]
use crate::plan::Action;

/// Whether the project's specific step installs into the venv (and so belongs to the builder
/// stage of a two-stage build).
pub fn installs_into_venv(project: &str) -> bool {
    project == skyline::PROJECT
}

/// The project-specific step of this build (of this stage), if the project has one.
pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let project = input.config.project.as_str();
    let wanted = match input.stage {
        Stage::Builder => installs_into_venv(project),
        Stage::Runtime => !installs_into_venv(project),
        Stage::Project | Stage::Requirements => true,
    };
    if !wanted {
        return Ok(None);
    }
    Ok(match project {
        "nova" => Some(nova::plan(input)),
        "horizon" => Some(horizon::plan(input)),
        "keystone" => keystone::plan(input),
        skyline::PROJECT => Some(skyline::plan(input)?),
        _ => None,
    })
}

/// Users the project needs besides its own, created right after it (before the packages,
/// whose maintainer scripts may create them otherwise). Not for plugins, whose service image
/// has them.
pub fn plan_users(input: &PlanInput) -> Option<Step> {
    if input.config.plugin {
        return None;
    }
    match input.config.project.as_str() {
        "nova" => Some(nova::plan_users(input)),
        _ => None,
    }
}

/// Runs one project-specific hook named in the plan.
pub fn run(
    project: &str,
    hook: &str,
    plan: &Plan,
    config: &Config,
    runner: &mut dyn Runner,
) -> Result<()> {
    match project {
        "nova" => nova::run(hook, config, runner),
        "horizon" => horizon::run(hook, config, runner),
        "keystone" => keystone::run(hook, plan, config),
        skyline::PROJECT => skyline::run(hook, config, runner),
        _ => Err(unknown(project, hook)),
    }
}

fn unknown(project: &str, hook: &str) -> Error {
    Error::new(format!("unknown project-specific step {project}: {hook}"))
        .hint("the plan was made by a different loci version than the one running it")
}
