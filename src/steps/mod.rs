//! The build steps, one module each, in the order LOCI runs them.
//!
//! Every module has a `plan` function that turns the [`PlanInput`] into a [`Step`] (or nothing,
//! when the step does not apply), and owns the in-process actions its step uses.

use crate::error::Result;
use crate::plan::{PlanInput, Step};

pub mod base;
pub mod cleanup;
pub mod config_files;
pub mod image_info;
pub mod install;
pub mod packages;
pub mod project_specific;
pub mod pydep;
pub mod requirements;
pub mod source;
pub mod user;
pub mod venv;
pub mod wheels;

/// All steps of a build, in order.
///
/// - `PROJECT=requirements` builds the wheels of a requirements image instead of a service.
/// - `PROJECT=infra` (LOCI's tooling image) gets the venv, bindep packages and PIP_PACKAGES only.
/// - `PLUGIN=yes` builds on top of a service image: no base packages, user, venv or pydep.
pub fn plan_all(input: &PlanInput) -> Result<Vec<Step>> {
    let c = input.config;
    let mut steps: Vec<Option<Step>> = Vec::new();
    if c.builds_requirements() {
        // No cleanup: the last step deletes everything but the wheels.
        steps.push(base::plan(input));
        steps.push(venv::plan(input));
        steps.push(packages::plan(input)?);
        steps.push(source::plan(input));
        steps.extend(requirements::plan(input)?.into_iter().map(Some));
    } else if c.project == "infra" {
        steps.push(base::plan(input));
        steps.push(wheels::plan(input));
        steps.push(venv::plan(input));
        steps.push(packages::plan(input)?);
        steps.push(install::plan_infra(input));
        steps.push(cleanup::plan(input)?);
    } else {
        steps.push(base::plan(input));
        steps.push(wheels::plan(input));
        steps.push(user::plan(input));
        steps.push(project_specific::plan_users(input));
        steps.push(venv::plan(input));
        steps.push(packages::plan(input)?);
        steps.push(pydep::plan(input)?);
        steps.push(source::plan(input));
        steps.push(install::plan(input));
        steps.push(project_specific::plan(input)?);
        steps.push(config_files::plan(input));
        steps.push(image_info::plan(input));
        steps.push(cleanup::plan(input)?);
    }
    Ok(steps.into_iter().flatten().collect())
}

/// The virtualenv's pip, as an argument-vector program.
pub(crate) fn venv_bin(input: &PlanInput, tool: &str) -> String {
    input
        .config
        .paths
        .venv
        .join("bin")
        .join(tool)
        .display()
        .to_string()
}
