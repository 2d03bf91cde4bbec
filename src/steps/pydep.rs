//! Step `pydep`: Python packages pydep.txt (and /opt/loci/pydep* extras) asks for, for
//! PROJECT + PROJECT_RELEASE + PROFILES, installed against the constraints.

use crate::error::Result;
use crate::plan::{PlanInput, Step};

/// The pydep packages for this build.
pub fn pydep_packages(input: &PlanInput) -> Result<Vec<String>> {
    let c = input.config;
    let mut profiles = vec![c.project.clone(), c.project_release.clone()];
    profiles.extend(c.profiles.iter().cloned());
    super::packages::resolve(
        &input.pydep_files,
        &super::packages::platform(input),
        &profiles,
    )
}

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    if input.config.plugin {
        return Ok(None);
    }
    let packages = pydep_packages(input)?;
    if packages.is_empty() {
        return Ok(None);
    }
    let cmd = super::python::pip_install(input, false)?.args(packages.iter().cloned());
    let mut step = Step::new("pydep", "Python packages from pydep").run(cmd);
    step.packages = packages;
    Ok(Some(step))
}
