//! Step `install`: pip-install the project (with PROJECT_PIP_EXTRAS), the EXTRA_PROJECTS trees
//! and PIP_PACKAGES from the wheels, against the constraints.

use super::python::pip_install;
use crate::config::Installer;
use crate::error::Result;
use crate::plan::{PlanInput, Step};

/// The project's source tree as a pip requirement, with extras.
pub fn project_requirement(input: &PlanInput) -> String {
    let c = input.config;
    let dir = c.paths.sources_dir.join(&c.project).display().to_string();
    match &c.project_pip_extras {
        Some(extras) => format!("{dir}[{extras}]"),
        None => dir,
    }
}

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let mut cmd = pip_install(input, c.keep_all_wheels)?.arg(project_requirement(input));
    for p in &c.extra_projects {
        cmd = cmd.arg(c.paths.data_dir.join(p).display().to_string());
    }
    cmd = cmd.args(c.pip_packages.iter().cloned());
    let mut step = Step::new("install", format!("pip install {}", c.project));
    // A plugin has no venv step, which provides the build's uv elsewhere.
    if c.plugin && c.installer == Installer::Uv {
        step = step.action(super::venv::provide_uv_action(input));
    }
    Ok(Some(step.run(cmd)))
}

/// LOCI's infra image: bindep and PIP_PACKAGES in the venv, no project.
pub fn plan_infra(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let cmd = pip_install(input, c.keep_all_wheels)?
        .arg("bindep")
        .args(c.pip_packages.iter().cloned());
    Ok(Some(
        Step::new("install", "pip install bindep and PIP_PACKAGES").run(cmd),
    ))
}
