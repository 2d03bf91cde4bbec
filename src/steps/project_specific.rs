//! Step `project`: the extra steps some services need after the pip install (nova's web
//! consoles and tss user, horizon's static assets, keystone's mod_oauth2).

use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::plan::{Plan, PlanInput, Step};

/// The project-specific step of this build, if the project has one.
pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let _ = input;
    Ok(None)
}

/// Runs one project-specific hook named in the plan.
pub fn run(project: &str, hook: &str, plan: &Plan, config: &Config, runner: &mut dyn Runner) -> Result<()> {
    let _ = (plan, config, runner);
    Err(Error::new(format!("unknown project-specific step {project}: {hook}")))
}
