//! Step `venv`: the virtualenv at /var/lib/openstack with an up-to-date pip toolchain.

use crate::error::Result;
use crate::plan::{Cmd, PlanInput, Step};

/// Plans `python3 -m venv` and one pip run upgrading pip, setuptools and wheel, each with its
/// constraint suffix (PIP_VERSION_CONSTRAINT, SETUPTOOL_CONSTRAINT, WHEEL_CONSTRAINT, e.g.
/// `<25`), and installing VENV_TOOLS ([`crate::config::DEFAULT_VENV_TOOLS`]: LOCI master's bindep, pkginfo
/// and uv) (a service's venv only: the requirements build deletes its
/// venv).
///
/// The venv is created without system site packages so that the build only sees what it
/// installs; cleanup turns `include-system-site-packages` on for the final image (packaged
/// modules such as python3-rbd must be importable), as LOCI does.
pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    if c.plugin {
        return Ok(None);
    }
    let venv = c.paths.venv.display().to_string();
    let mut pip = Cmd::new(
        super::venv_bin(input, "pip"),
        ["install", "--upgrade", "--no-cache-dir", "--no-compile"],
    );
    // A requirements build has no wheels yet: its toolchain comes from the index alone. A
    // service's comes from its wheels first, within the upper-constraints (the wheels step ran
    // before): unconstrained, the toolchain's own dependencies (wheel needs packaging) would be
    // the newest, and the install step's pinned copy would land beside them, leaving two
    // dist-info directories of one package in the venv.
    if !c.builds_requirements() {
        let upper = super::wheels::constraints_dir(input).join("upper-constraints.txt");
        pip = pip.args(["-c".to_string(), upper.display().to_string()]);
        if let Some(wheels) = super::wheels::wheels_dir(input) {
            pip = pip.args(["--find-links".to_string(), wheels.display().to_string()]);
        }
    }
    pip = pip.args(c.pip_args.iter().cloned());
    pip = pip.args([
        format!("pip{}", c.pip_constraint),
        format!("setuptools{}", c.setuptools_constraint),
        format!("wheel{}", c.wheel_constraint),
    ]);
    if !c.builds_requirements() {
        // LOCI master's setup_venv: bindep, pkginfo and uv stay in the image for child images
        // (INSTALLER=uv uses this uv for the build's installs).
        pip = pip.args(c.venv_tools.iter().cloned());
        if c.uv_for_the_build_only() {
            pip = pip.arg("uv");
        }
    }
    Ok(Some(
        Step::new("venv", format!("virtualenv at {venv}"))
            .run(Cmd::new("python3", ["-m", "venv", venv.as_str()]))
            .run(pip),
    ))
}
