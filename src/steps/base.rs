//! Step `base`: refresh the package index once and install what every image needs.

use std::fmt;

use crate::error::Result;
use crate::plan::{BaseAction, PlanInput, Step};
use crate::runner::Context;

/// Plans the base packages (only the missing ones are installed, see
/// [`crate::steps::packages::install`]): git when the build needs it ([`needs_git`]; purged
/// again at cleanup), python3 with venv, and the run-time basics (ca-certificates, netbase,
/// sudo, lsb-release, libpython3.X). Skipped for plugins, which build on top of an image that
/// already has them.
pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    if input.config.plugin {
        return Ok(None);
    }
    let d = input.distro;
    // The runtime stage gets the venv built: it needs neither git nor patch.
    let mut packages = if needs_git(input) {
        d.build_tools()
    } else {
        Vec::new()
    };
    packages.extend(d.base_packages());
    let mut step = Step::new("base", format!("base packages for {}", d.label()))
        .action(super::packages::install_action(d, &packages));
    if d.family == crate::distro::Family::Debian && d.python.is_none() {
        step = step.action(BaseAction::InstallLibpython {
            install: d.install_cmd(&[]),
        });
    }
    step.packages = packages;
    Ok(Some(step))
}

/// Whether the build runs git: pbr asks git for the version of a source tree that has no
/// PKG-INFO (a git checkout: what the source step clones), and pip clones `git+` requirements.
/// A requirements build always may (git+ constraints, source trees). The runtime stage builds
/// nothing. A service whose source trees are all in place with their PKG-INFO (sdists, as
/// pre-seeded in the data dir) and without `git+` packages needs no git at all.
pub fn needs_git(input: &PlanInput) -> bool {
    let c = input.config;
    if input.stage == crate::plan::Stage::Runtime {
        return false;
    }
    if c.builds_requirements() || c.pip_packages.iter().any(|p| p.contains("git+")) {
        return true;
    }
    let trees = std::iter::once(c.paths.sources_dir.join(&c.project))
        .chain(c.extra_projects.iter().map(|p| c.paths.data_dir.join(p)));
    let trees: Vec<_> = trees.collect();
    match c.kind {
        crate::config::BuildKind::Requirements => true,
        crate::config::BuildKind::Infra => false,
        crate::config::BuildKind::Service => !trees.iter().all(|t| t.join("PKG-INFO").is_file()),
    }
}

impl fmt::Display for BaseAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let BaseAction::InstallLibpython { .. } = self;
        write!(f, "detect python3's minor version, install libpython3.X")
    }
}

/// Runs one action of this module.
pub fn run(action: &BaseAction, ctx: &mut Context) -> crate::Result<()> {
    let BaseAction::InstallLibpython { install } = action;
    install_libpython(install, ctx.runner)
}

/// Installs `libpython3.X` for the minor version of the installed python3 (for releases whose
/// default Python is not in loci's table), with `install`, the distro's install command.
pub fn install_libpython(
    install: &crate::plan::Cmd,
    runner: &mut dyn crate::runner::Runner,
) -> crate::Result<()> {
    let out = runner.output(&crate::plan::Cmd::new(
        "python3",
        ["-c", "import sys; print(sys.version_info.minor)"],
    ))?;
    let minor: u32 = out.trim().parse().map_err(|_| {
        crate::Error::new(format!(
            "cannot tell python3's minor version from {:?}",
            out.trim()
        ))
    })?;
    runner.run(&install.clone().arg(format!("libpython3.{minor}")))
}
