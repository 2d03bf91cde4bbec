//! Executing a plan: a thin layer that walks the steps, runs commands and dispatches in-process
//! actions to the step module that owns them.
//!
//! The build log is the user's interface: each step gets a header and a footer with its
//! duration, every command is echoed before it runs, and its output streams through while the
//! last lines are kept for the error message if it fails.

use std::io::Write;
use std::time::Instant;

use crate::config::Config;
use crate::error::Result;
use crate::plan::{Action, Plan};
pub use crate::report::human;
pub use crate::runner::{Context, Runner, State, SystemRunner, Timings};
use crate::steps;

/// Runs every step of `plan` in order.
pub fn execute(plan: &Plan, config: &Config, runner: &mut dyn Runner) -> Result<Timings> {
    let mut timings = Timings::default();
    let mut state = State::default();
    let n = plan.steps.len();
    crate::say!(
        "==> loci {} building {} on {}, stage {} ({} steps)",
        env!("CARGO_PKG_VERSION"),
        plan.project,
        plan.distro.label(),
        plan.stage.name(),
        n
    );
    if let Some(dir) = &config.cache_dir {
        crate::say!(
            "==> package caches at {} (PACKAGE_CACHE=False for none)",
            dir.display()
        );
        for d in plan.distro.cache_dirs_to_create() {
            std::fs::create_dir_all(&d).map_err(|e| {
                crate::Error::new(format!("cannot create {}", d.display()))
                    .caused_by(e)
                    .in_step("cache")
                    .hint("the package cache is a BuildKit cache mount; PACKAGE_CACHE=False builds without it")
            })?;
        }
    }
    for (i, step) in plan.steps.iter().enumerate() {
        crate::say!("==> [{}/{n}] {}: {}", i + 1, step.name, step.summary);
        let _ = std::io::stdout().flush();
        let start = Instant::now();
        let mut ctx = Context {
            plan,
            config,
            runner: &mut *runner,
            timings: &timings,
            state: &mut state,
        };
        for action in &step.actions {
            run_action(action, &mut ctx).map_err(|e| e.in_step(step.name))?;
        }
        let took = start.elapsed();
        crate::say!("==> [{}/{n}] {} done in {}", i + 1, step.name, human(took));
        timings
            .steps
            .push((step.name.to_string(), took.as_secs_f64()));
    }
    crate::say!(
        "==> {} built in {}",
        plan.project,
        human(state.started.elapsed())
    );
    Ok(timings)
}

fn run_action(action: &Action, ctx: &mut Context) -> Result<()> {
    let (plan, config) = (ctx.plan, ctx.config);
    match action {
        Action::Run { cmd } => ctx.runner.run(cmd),
        Action::InstallPackages {
            packages, refresh, ..
        } => steps::packages::install(ctx, packages, refresh.as_ref()),
        Action::CheckPackages { packages, refresh } => {
            steps::preflight::check(ctx, packages, refresh.as_ref())
        }
        Action::InstallLibpython { install } => steps::base::install_libpython(install, ctx.runner),
        Action::PurgePackages { packages, .. } => steps::packages::purge(ctx, packages),
        Action::ProvideUv {
            wheels,
            dir,
            fallback,
        } => steps::venv::provide_uv(wheels.as_deref(), dir, fallback, ctx.runner),
        Action::PreferOffline { offline, online } => {
            steps::venv::prefer_offline(offline, online, ctx.runner)
        }
        Action::FetchWheels { source, dest } => {
            steps::wheels::fetch(source, dest, &config.registry, &config.tls)
        }
        Action::PrepareConstraints {
            wheels,
            dir,
            project,
        } => steps::wheels::prepare_constraints(wheels, dir, project),
        Action::FetchConstraints {
            source,
            dir,
            project,
            setuptools,
        } => steps::wheels::fetch_constraints(source, dir, project, setuptools, &config.tls),
        Action::RecordVenvLibraries { venv, out } => {
            steps::libraries::record(venv, out, &plan.distro, ctx.runner)
        }
        Action::InstallListedPackages { file, refresh } => {
            let packages = steps::libraries::read_list(file)?;
            if packages.is_empty() {
                crate::say!("the venv needs no shared library from a package");
                return Ok(());
            }
            steps::packages::install(ctx, &packages, refresh.as_ref())
        }
        Action::CreateUser { user } => steps::user::create(user, ctx.runner),
        Action::GitClone {
            var,
            repo,
            reference,
            dest,
            shallow_no_git,
        } => steps::source::clone(var, repo, reference, dest, *shallow_no_git, &config.tls),
        Action::ProjectHook { hook } => steps::project_specific::run(hook, ctx),
        Action::CopyConfigFiles { from, to } => steps::config_files::copy(from, to),
        Action::CollectInfo { dir } => steps::image_info::collect(dir, ctx),
        Action::FinishInfo { dir } => {
            steps::image_info::finish(dir, config, ctx.timings, ctx.state.started.elapsed())
        }
        Action::ClampMtimes { root, epoch } => {
            let n = steps::seal::clamp_mtimes(root, *epoch, ctx.state.started_wall)?;
            crate::say!("set the time of {n} files and directories to {epoch}");
            Ok(())
        }
        Action::Remove {
            paths,
            contents_only,
        } => steps::cleanup::remove(paths, *contents_only),
        Action::DeleteBytecode { roots } => steps::cleanup::delete_bytecode(roots),
        Action::SystemSitePackages { venv } => steps::cleanup::system_site_packages(venv),
        Action::RequirementsConstraints { spec } => steps::requirements::prepare(spec, config),
        Action::RequirementsWheels { spec } => steps::requirements::build(spec, config),
        Action::PurgeRoot { root } => steps::requirements::purge(root).map(|_| ()),
    }
}
