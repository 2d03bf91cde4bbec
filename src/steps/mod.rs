//! The build steps, one module each, in the order LOCI runs them.
//!
//! Every module has a `plan` function that turns the [`PlanInput`] into a [`Step`] (or nothing,
//! when the step does not apply), and owns the in-process actions its step uses.

use crate::error::{Error, Result};
use crate::plan::{Action, PlanInput, Stage, Step};

pub mod base;
pub mod cleanup;
pub mod config_files;
pub mod image_info;
pub mod install;
pub mod libraries;
pub mod packages;
pub mod preflight;
pub mod project_specific;
pub mod pydep;
pub mod requirements;
pub mod seal;
pub mod source;
pub mod user;
pub mod venv;
pub mod wheels;

/// All steps of a build (or of one stage of it, see [`Stage`]), in order.
///
/// - `PROJECT=requirements` builds the wheels of a requirements image instead of a service.
/// - `PROJECT=infra` (LOCI's tooling image) gets the venv, bindep packages and PIP_PACKAGES only.
/// - `PLUGIN=yes` builds on top of a service image: no base packages, user, venv or pydep.
///
/// The wheels step comes first: wheels that cannot be had, or that are not a requirements
/// image, stop the build before anything is installed. Then `preflight`: a package name the
/// distro's index does not know stops it before the first change to the system.
pub fn plan_all(input: &PlanInput) -> Result<Vec<Step>> {
    let c = input.config;
    check_stage(input)?;
    let mut steps: Vec<Option<Step>> = Vec::new();
    if c.builds_requirements() {
        // No cleanup: the last step deletes everything but the wheels.
        steps.push(base::plan(input));
        steps.push(venv::plan(input));
        steps.push(packages::plan(input)?);
        steps.push(source::plan(input));
        steps.extend(requirements::plan(input)?.into_iter().map(Some));
    } else if c.project == "infra" {
        steps.push(wheels::plan(input));
        steps.push(base::plan(input));
        steps.push(venv::plan(input));
        steps.push(packages::plan(input)?);
        steps.push(install::plan_infra(input)?);
        steps.push(cleanup::plan(input)?);
    } else if input.stage == Stage::Builder {
        steps.push(wheels::plan(input));
        steps.push(base::plan(input));
        steps.push(venv::plan(input));
        steps.push(packages::plan(input)?);
        steps.push(pydep::plan(input)?);
        steps.push(source::plan(input));
        steps.push(install::plan(input)?);
        steps.push(project_specific::plan(input)?);
        steps.push(libraries::plan_record(input));
        steps.push(image_info::plan(input));
        steps.push(cleanup::plan(input)?);
    } else if input.stage == Stage::Runtime {
        steps.push(base::plan(input));
        steps.push(user::plan(input));
        steps.push(project_specific::plan_users(input));
        steps.push(packages::plan(input)?);
        steps.push(project_specific::plan(input)?);
        steps.push(config_files::plan(input));
        steps.push(image_info::plan(input));
        steps.push(cleanup::plan(input)?);
    } else {
        steps.push(wheels::plan(input));
        steps.push(base::plan(input));
        steps.push(user::plan(input));
        steps.push(project_specific::plan_users(input));
        steps.push(venv::plan(input));
        steps.push(packages::plan(input)?);
        steps.push(pydep::plan(input)?);
        steps.push(source::plan(input));
        steps.push(install::plan(input)?);
        steps.push(project_specific::plan(input)?);
        steps.push(config_files::plan(input));
        steps.push(image_info::plan(input));
        steps.push(cleanup::plan(input)?);
    }
    let has_info = steps
        .iter()
        .flatten()
        .flat_map(|s| &s.actions)
        .any(|a| matches!(a, Action::CollectInfo { .. }));
    steps.push(seal::plan(input, has_info));
    let mut steps: Vec<Step> = steps.into_iter().flatten().collect();
    preflight::insert(&mut steps, input)?;
    Ok(steps)
}

/// Refuses a stage that does not fit the build: the `requirements` target is for
/// PROJECT=requirements only, the two-stage targets for services only.
fn check_stage(input: &PlanInput) -> Result<()> {
    let c = input.config;
    match input.stage {
        Stage::Requirements if !c.builds_requirements() => Err(Error::new(format!(
            "the requirements target builds PROJECT=requirements, not PROJECT={}",
            c.project
        ))
        .hint("drop `--target requirements` to build the service, or set --build-arg PROJECT=requirements")),
        Stage::Builder | Stage::Runtime if c.builds_requirements() || c.project == "infra" || c.plugin => {
            Err(Error::new(format!(
                "the {} target builds a service in two stages; PROJECT={}{} has one stage only",
                input.stage.name(),
                c.project,
                if c.plugin { " with PLUGIN" } else { "" }
            ))
            .hint("use `--target requirements` for PROJECT=requirements, `--target project` otherwise"))
        }
        _ => Ok(()),
    }
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
