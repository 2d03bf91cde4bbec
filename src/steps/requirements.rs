//! PROJECT=requirements: build the wheels of a requirements image (LOCI's requirements.sh).

use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::plan::{Action, Plan, PlanInput, Step};

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let _ = input;
    Ok(Some(
        Step::new("requirements", "build wheels for every constraint")
            .action(Action::BuildRequirements),
    ))
}

pub fn build(plan: &Plan, config: &Config, runner: &mut dyn Runner) -> Result<()> {
    let _ = (plan, config, runner);
    Err(Error::new("PROJECT=requirements is not implemented yet"))
}
