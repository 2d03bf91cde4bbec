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
//! [`Action::Project`] hooks that [`run`] dispatches to the project's module.
//!
//! In a two-stage build, what installs into the venv (skyline's console) runs in the builder
//! stage, where the venv, the wheels and the constraints are; everything else in the runtime
//! stage.

use std::fmt;

use crate::config::SpecificProject;
use crate::error::Result;
use crate::plan::{Hook, PlanInput, Stage, Step};
use crate::runner::Context;

pub mod horizon;
pub mod keystone;
pub mod nova;
pub mod skyline;

#[cfg(doc)]
use crate::plan::Action;

/// A hook's line in the plan and the build log: its project and what it does (the project's
/// module's text).
impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.project())?;
        match self {
            Hook::Nova(h) => h.fmt(f),
            Hook::Horizon(h) => h.fmt(f),
            Hook::Keystone(h) => h.fmt(f),
            Hook::Skyline(h) => h.fmt(f),
        }
    }
}

/// Whether the project's specific step installs into the venv (and so belongs to the builder
/// stage of a two-stage build).
pub fn installs_into_venv(project: Option<SpecificProject>) -> bool {
    project == Some(SpecificProject::SkylineApiserver)
}

/// The project-specific step of this build (of this stage), if the project has one.
pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let project = input.config.specific;
    let wanted = match input.stage {
        Stage::Builder => installs_into_venv(project),
        Stage::Runtime => !installs_into_venv(project),
        Stage::Project | Stage::Requirements => true,
    };
    if !wanted {
        return Ok(None);
    }
    match project {
        Some(SpecificProject::Nova) => nova::plan(input),
        Some(SpecificProject::Horizon) => horizon::plan(input),
        Some(SpecificProject::Keystone) => keystone::plan(input),
        Some(SpecificProject::SkylineApiserver) => skyline::plan(input),
        None => Ok(None),
    }
}

/// Users the project needs besides its own, created right after it (before the packages,
/// whose maintainer scripts may create them otherwise). Not for plugins, whose service image
/// has them.
pub fn plan_users(input: &PlanInput) -> Result<Option<Step>> {
    if input.config.plugin {
        return Ok(None);
    }
    match input.config.specific {
        Some(SpecificProject::Nova) => nova::plan_users(input),
        _ => Ok(None),
    }
}

/// Runs one project-specific hook of the plan, in its project's module.
pub fn run(hook: &Hook, ctx: &mut Context) -> Result<()> {
    match hook {
        Hook::Nova(h) => nova::run(h, ctx),
        Hook::Horizon(h) => horizon::run(h, ctx),
        Hook::Keystone(h) => keystone::run(h, ctx),
        Hook::Skyline(h) => skyline::run(h, ctx),
    }
}
