//! Step `base`: refresh the package index once and install what every image needs.

use crate::error::Result;
use crate::plan::{Action, PlanInput, Step};

/// Plans the base packages (only the missing ones are installed, see
/// [`crate::steps::packages::install`]): git and patch for the build (purged again at cleanup), python3 with
/// venv, and the run-time basics (ca-certificates, netbase, sudo, lsb-release, libpython3.X).
/// Skipped for plugins, which build on top of an image that already has them.
pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    if input.config.plugin {
        return Ok(None);
    }
    let d = input.distro;
    // The runtime stage gets the venv built: it needs neither git nor patch.
    let mut packages = if input.stage == crate::plan::Stage::Runtime {
        Vec::new()
    } else {
        d.build_only_packages()
    };
    packages.extend(d.base_packages());
    let mut step = Step::new("base", format!("base packages for {}", d.label()))
        .action(super::packages::install_action(d, &packages));
    if d.family == crate::distro::Family::Debian && d.python.is_none() {
        step = step.action(Action::InstallLibpython {
            install: d.install_cmd(&[]),
        });
    }
    step.packages = packages;
    Ok(Some(step))
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
