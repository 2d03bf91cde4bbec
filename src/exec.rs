//! Executing a plan: a thin layer that walks the steps and gives each action to
//! [`steps::run`], which runs commands and hands every other action to the step module that
//! owns it.
//!
//! The build log is the user's interface: each step gets a header and a footer with its
//! duration, every command is echoed before it runs, and its output streams through while the
//! last lines are kept for the error message if it fails.

use std::time::Instant;

use crate::config::Config;
use crate::error::Result;
use crate::plan::Plan;
use crate::report::{self, human};
use crate::runner::{Context, Runner, State, Timings};
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
    for ignored in &config.ignored {
        crate::say!("==> {}", ignored.line());
    }
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
        // A damaged entry of the Python cache is removed, never installed (crate::cache).
        for (path, why) in crate::cache::repair_python(&dir.join("python")).removed {
            crate::say!(
                "==> package cache: removed the damaged {} ({why}): fetched or built again",
                path.display()
            );
        }
    }
    let mut clone_started = false;
    for (i, step) in plan.steps.iter().enumerate() {
        // The project's clone overlaps the package steps before it (the `source` step waits
        // for it), from the first step that changes the system: after the inputs are checked
        // (`wheels`, `preflight`), so that a build they fail never clones.
        if !clone_started && !matches!(step.name, "wheels" | "preflight") {
            steps::source::start_early(plan, &config.tls, &mut state);
            clone_started = true;
        }
        crate::say!("==> [{}/{n}] {}: {}", i + 1, step.name, step.summary);
        report::flush();
        let start = Instant::now();
        let mut ctx = Context {
            plan,
            config,
            runner: &mut *runner,
            timings: &timings,
            state: &mut state,
        };
        for action in &step.actions {
            if let Err(e) = steps::run(action, &mut ctx) {
                // A clone still running is not left behind half made.
                steps::source::abandon_early(ctx.state);
                return Err(e.in_step(step.name));
            }
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
