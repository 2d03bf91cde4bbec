//! The build steps, one module each, in the order LOCI runs them.
//!
//! Every step module has a [`Planner`] (`plan`) that turns the [`PlanInput`] into its [`Step`]
//! (or nothing, when the step does not apply), and owns its actions whole: their text
//! (`impl Display` for its action enum of [`crate::plan`]) and what they do (its `run`).
//! Which planners a build runs, in which order, is one table per kind of build and stage
//! ([`pipeline`]); three [`Pass`]es then edit the whole list (git into the `packages` step's
//! install, one transaction with the project's packages; the `seal` step at the end; the
//! `preflight` step before the first change to the system). [`build_plan`] makes the plan;
//! [`run`] gives each action to the module that owns it. The Python toolchain the steps share
//! is [`python`].

use std::fmt;

use crate::config::BuildKind;
use crate::error::{Error, Result};
use crate::plan::{Action, Plan, PlanInput, Stage, Step};
use crate::runner::Context;

pub mod base;
pub mod cleanup;
pub mod config_files;
pub mod coverage;
pub mod image_info;
pub mod install;
pub mod libraries;
pub mod packages;
pub mod preflight;
pub mod project_specific;
pub mod pydep;
pub mod python;
pub mod requirements;
pub mod seal;
pub mod source;
pub mod source_tree;
pub mod user;
pub mod venv;
pub mod wheels;

/// The shape of every step's planner: its step for this input, or nothing.
pub type Planner = fn(&PlanInput) -> Result<Option<Step>>;

/// A pass over the planned steps, adding the steps that depend on the others.
pub type Pass = fn(&PlanInput, &mut Vec<Step>) -> Result<()>;

/// A table of planners, in groups; the groups run one after the other.
pub type Pipeline = &'static [&'static [Planner]];

/// `PROJECT=requirements`: the wheels of a requirements image. No cleanup: the last step
/// deletes everything but the wheels.
const REQUIREMENTS: Pipeline = &[&[
    base::plan,
    venv::plan,
    requirements::plan_packages,
    source::plan,
    requirements::plan_wheels,
    requirements::plan_purge,
]];

/// `PROJECT=infra` (LOCI's tooling image): the venv, bindep packages and PIP_PACKAGES only.
const INFRA: Pipeline = &[&[
    wheels::plan,
    base::plan,
    venv::plan,
    packages::plan,
    install::plan_infra,
    cleanup::plan,
]];

/// A service's venv from its source, with the packages it needs: the middle of the one-stage
/// build and of the builder stage.
const SERVICE_VENV: &[Planner] = &[
    venv::plan,
    packages::plan,
    pydep::plan,
    source::plan,
    install::plan,
    coverage::plan,
    project_specific::plan,
];

/// A service in one stage (the Dockerfile's `project` target, LOCI's).
const SERVICE: Pipeline = &[
    &[
        wheels::plan,
        base::plan,
        user::plan,
        project_specific::plan_users,
    ],
    SERVICE_VENV,
    &[config_files::plan, image_info::plan, cleanup::plan],
];

/// The first stage of a two-stage service build: the venv and the build facts.
const BUILDER: Pipeline = &[
    &[wheels::plan, base::plan],
    SERVICE_VENV,
    &[libraries::plan_record, image_info::plan, cleanup::plan],
];

/// The final stage of a two-stage service build, over the builder's venv and facts.
const RUNTIME: Pipeline = &[&[
    base::plan,
    user::plan,
    project_specific::plan_users,
    packages::plan,
    project_specific::plan,
    config_files::plan,
    image_info::plan,
    cleanup::plan,
]];

/// The passes every build ends with, in order.
const PASSES: &[Pass] = &[base::add_git_to_packages, seal::append, preflight::insert];

/// The planners of a build (or of one stage of it, see [`Stage`]), in order.
///
/// - `PROJECT=requirements` builds the wheels of a requirements image instead of a service.
/// - `PROJECT=infra` (LOCI's tooling image) gets the venv, bindep packages and PIP_PACKAGES only.
/// - `PLUGIN=yes` builds on top of a service image: its planners skip the base packages, user,
///   venv and pydep.
///
/// The wheels step comes first: wheels that cannot be had, or that are not a requirements
/// image, stop the build before anything is installed. Then `preflight`: a package name the
/// distro's index does not know stops it before the first change to the system.
pub fn pipeline(input: &PlanInput) -> Pipeline {
    match (input.config.kind, input.stage) {
        (BuildKind::Requirements, _) => REQUIREMENTS,
        (BuildKind::Infra, _) => INFRA,
        (BuildKind::Service, Stage::Builder) => BUILDER,
        (BuildKind::Service, Stage::Runtime) => RUNTIME,
        (BuildKind::Service, Stage::Project | Stage::Requirements) => SERVICE,
    }
}

/// Computes the plan of a `loci build` (or of one stage of it).
pub fn build_plan(input: &PlanInput) -> Result<Plan> {
    let steps = plan_all(input)?;
    Ok(Plan {
        project: input.config.project.clone(),
        stage: input.stage,
        distro: input.distro.clone(),
        steps,
    })
}

/// An action's line in the plan and the build log: the owning module's text.
impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Run { cmd } => write!(f, "run: {cmd}"),
            Action::Packages(a) => a.fmt(f),
            Action::Preflight(a) => a.fmt(f),
            Action::Base(a) => a.fmt(f),
            Action::Venv(a) => a.fmt(f),
            Action::Wheels(a) => a.fmt(f),
            Action::Libraries(a) => a.fmt(f),
            Action::User(a) => a.fmt(f),
            Action::Source(a) => a.fmt(f),
            Action::Coverage(a) => a.fmt(f),
            Action::Project(a) => a.fmt(f),
            Action::ConfigFiles(a) => a.fmt(f),
            Action::Info(a) => a.fmt(f),
            Action::Seal(a) => a.fmt(f),
            Action::Cleanup(a) => a.fmt(f),
            Action::Requirements(a) => a.fmt(f),
        }
    }
}

/// Runs one action: a command with the context's runner, anything else in the module that
/// owns it.
pub fn run(action: &Action, ctx: &mut Context) -> Result<()> {
    match action {
        Action::Run { cmd } => ctx.runner.run(cmd),
        Action::Packages(a) => packages::run(a, ctx),
        Action::Preflight(a) => preflight::run(a, ctx),
        Action::Base(a) => base::run(a, ctx),
        Action::Venv(a) => venv::run(a, ctx),
        Action::Wheels(a) => wheels::run(a, ctx),
        Action::Libraries(a) => libraries::run(a, ctx),
        Action::User(a) => user::run(a, ctx),
        Action::Source(a) => source::run(a, ctx),
        Action::Coverage(a) => coverage::run(a, ctx),
        Action::Project(a) => project_specific::run(a, ctx),
        Action::ConfigFiles(a) => config_files::run(a, ctx),
        Action::Info(a) => image_info::run(a, ctx),
        Action::Seal(a) => seal::run(a, ctx),
        Action::Cleanup(a) => cleanup::run(a, ctx),
        Action::Requirements(a) => requirements::run(a, ctx),
    }
}

/// All steps of a build (or of one stage of it), in order.
pub fn plan_all(input: &PlanInput) -> Result<Vec<Step>> {
    check_stage(input)?;
    let mut steps = Vec::new();
    for planner in pipeline(input).iter().copied().flatten() {
        steps.extend(planner(input)?);
    }
    for pass in PASSES {
        pass(input, &mut steps)?;
    }
    Ok(steps)
}

/// Refuses a stage that does not fit the build: the `requirements` target is for
/// PROJECT=requirements only, the two-stage targets for services only.
fn check_stage(input: &PlanInput) -> Result<()> {
    let c = input.config;
    match input.stage {
        Stage::Requirements if c.kind != BuildKind::Requirements => Err(Error::new(format!(
            "the requirements target builds PROJECT=requirements, not PROJECT={}",
            c.project
        ))
        .hint("drop `--target requirements` to build the service, or set --build-arg PROJECT=requirements")),
        Stage::Builder | Stage::Runtime if c.kind != BuildKind::Service || c.plugin => {
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
