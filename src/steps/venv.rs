//! Step `venv`: the virtualenv at /var/lib/openstack with an up-to-date pip toolchain.

use std::fs;
use std::path::{Path, PathBuf};

use crate::config::Installer;
use crate::error::{Context, Error, Result};
use crate::plan::{Action, Cmd, PlanInput, Step};

/// Plans the venv and its toolchain: pip, setuptools and wheel, each with its constraint
/// suffix (PIP_VERSION_CONSTRAINT, SETUPTOOL_CONSTRAINT, WHEEL_CONSTRAINT, e.g. `<25`), and
/// for a service VENV_TOOLS ([`crate::config::DEFAULT_VENV_TOOLS`]).
///
/// With INSTALLER=uv (a service's build) the venv is made without pip (`python3 -m venv
/// --without-pip`, no ensurepip run) and the build's uv ([`build_uv`], taken from the wheels)
/// installs the toolchain: from the wheels alone when they hold it (a requirements image made
/// by loci does), else from the index too. With INSTALLER=pip, and for a requirements build,
/// LOCI's way: `python3 -m venv`, then one `pip install --upgrade`.
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
    let mut tools = vec![
        format!("pip{}", c.pip_constraint),
        format!("setuptools{}", c.setuptools_constraint),
        format!("wheel{}", c.wheel_constraint),
    ];
    if c.builds_requirements() {
        // A requirements build has no wheels yet: its toolchain comes from the index alone.
        let pip = Cmd::new(super::venv_bin(input, "pip"), ["install", "--upgrade"])
            .args(super::install::pip_cache_args(input))
            .arg("--no-compile")
            .args(c.pip_args.iter().cloned())
            .args(tools);
        return Ok(Some(
            Step::new("venv", format!("virtualenv at {venv}"))
                .run(Cmd::new("python3", ["-m", "venv", venv.as_str()]))
                .run(pip),
        ));
    }
    // LOCI master's setup_venv: the tools stay in the image for child images.
    tools.extend(c.venv_tools.iter().cloned());
    // A service's toolchain comes from its wheels first, within the upper-constraints (the
    // wheels step ran before): unconstrained, the toolchain's own dependencies (wheel needs
    // packaging) would be the newest, and the install step's pinned copy would land beside
    // them, leaving two dist-info directories of one package in the venv.
    let upper = super::wheels::constraints_dir(input).join("upper-constraints.txt");
    let mut sources = vec!["-c".to_string(), upper.display().to_string()];
    let wheels = super::wheels::wheels_dir(input);
    if let Some(w) = &wheels {
        sources.extend(["--find-links".to_string(), w.display().to_string()]);
    }
    let step = Step::new("venv", format!("virtualenv at {venv}"));
    match c.installer {
        Installer::Pip => {
            let pip = Cmd::new(super::venv_bin(input, "pip"), ["install", "--upgrade"])
                .args(super::install::pip_cache_args(input))
                .arg("--no-compile")
                .args(sources)
                .args(c.pip_args.iter().cloned())
                .args(tools);
            Ok(Some(
                step.run(Cmd::new("python3", ["-m", "venv", venv.as_str()]))
                    .run(pip),
            ))
        }
        Installer::Uv => {
            let online = super::install::uv_pip_install(input)
                .args(sources)
                .args(c.pip_args.iter().cloned())
                .args(tools);
            let step = step.action(provide_uv_action(input)).run(Cmd::new(
                "python3",
                ["-m", "venv", "--without-pip", venv.as_str()],
            ));
            Ok(Some(match wheels {
                Some(_) => step.action(Action::PreferOffline {
                    offline: online.clone().arg("--no-index"),
                    online,
                }),
                None => step.run(online),
            }))
        }
    }
}

/// Where the build's uv is: a directory of the data dir (emptied at cleanup), never the venv.
pub fn build_uv_dir(input: &PlanInput) -> PathBuf {
    input.config.paths.data_dir.join("loci-uv")
}

/// The build's uv binary ([`Action::ProvideUv`] puts it there).
pub fn build_uv(input: &PlanInput) -> String {
    build_uv_dir(input).join("bin/uv").display().to_string()
}

/// [`Action::ProvideUv`] for this build: uv's wheel from the wheels, else `pip install uv` into
/// a venv of its own in the data dir.
pub(crate) fn provide_uv_action(input: &PlanInput) -> Action {
    let dir = build_uv_dir(input);
    let upper = super::wheels::constraints_dir(input).join("upper-constraints.txt");
    let fallback = vec![
        Cmd::new(
            "python3",
            ["-m", "venv", dir.display().to_string().as_str()],
        ),
        Cmd::new(
            dir.join("bin/pip").display().to_string(),
            ["install", "--no-compile"],
        )
        .args(super::install::pip_cache_args(input))
        .args(["-c".to_string(), upper.display().to_string()])
        .args(input.config.pip_args.iter().cloned())
        .arg("uv"),
    ];
    Action::ProvideUv {
        wheels: super::wheels::wheels_dir(input),
        dir,
        fallback,
    }
}

/// [`Action::ProvideUv`]: `dir/bin/uv` from the newest `uv-*.whl` of `wheels` (its
/// `uv-VERSION.data/scripts/uv`, taken out with Python's own zipfile module), else the
/// `fallback` commands (a venv at `dir` with uv pip-installed from the index).
pub fn provide_uv(
    wheels: Option<&Path>,
    dir: &Path,
    fallback: &[Cmd],
    runner: &mut dyn crate::runner::Runner,
) -> Result<()> {
    let wheel = wheels.and_then(uv_wheel);
    let Some(wheel) = wheel else {
        crate::say!("no uv wheel in the wheels: uv from the index, in a venv of its own");
        for cmd in fallback {
            runner.run(cmd)?;
        }
        return Ok(());
    };
    crate::say!("uv from {}", wheel.display());
    let unpacked = dir.join("wheel");
    runner.output(&Cmd::new(
        "python3",
        [
            "-m".to_string(),
            "zipfile".into(),
            "-e".into(),
            wheel.display().to_string(),
            unpacked.display().to_string(),
        ],
    ))?;
    let script = fs::read_dir(&unpacked)
        .context(|| format!("cannot list {}", unpacked.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("scripts/uv"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::new(format!("{} holds no uv binary", wheel.display()))
                .hint("the wheel should have uv-VERSION.data/scripts/uv; rebuild the requirements image, or use INSTALLER=pip")
        })?;
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).context(|| format!("cannot create {}", bin.display()))?;
    let dest = bin.join("uv");
    fs::rename(&script, &dest).context(|| format!("cannot move uv to {}", dest.display()))?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o755))
        .context(|| format!("cannot make {} executable", dest.display()))?;
    let _ = fs::remove_dir_all(&unpacked);
    Ok(())
}

/// The newest `uv-*.whl` in `dir` (by version, compared numerically part by part).
fn uv_wheel(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<(Vec<u64>, PathBuf)> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let version = name
                .strip_prefix("uv-")?
                .strip_suffix(".whl")?
                .split('-')
                .next()?
                .to_string();
            let key = version
                .split('.')
                .map(|p| p.parse::<u64>().unwrap_or(0))
                .collect();
            Some((key, e.path()))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// [`Action::PreferOffline`]: `offline` with its output kept back; when it fails (the wheels
/// lack something), `online`.
pub fn prefer_offline(
    offline: &Cmd,
    online: &Cmd,
    runner: &mut dyn crate::runner::Runner,
) -> Result<()> {
    crate::say!("+ {offline}");
    match runner.output(offline) {
        Ok(_) => Ok(()),
        Err(e) => {
            let why = e.to_string();
            let why = why.lines().last().unwrap_or("").trim().to_string();
            crate::say!("not all of it is in the wheels ({why}): with the index");
            runner.run(online)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_uv_wheel_is_taken() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "uv-0.9.2-py3-none-manylinux_2_17_x86_64.whl",
            "uv-0.10.1-py3-none-manylinux_2_17_x86_64.whl",
            "uvicorn-0.40.0-py3-none-any.whl",
            "six-1.17.0-py2.py3-none-any.whl",
        ] {
            fs::write(d.path().join(f), "").unwrap();
        }
        let got = uv_wheel(d.path()).unwrap();
        assert_eq!(
            got.file_name().unwrap().to_string_lossy(),
            "uv-0.10.1-py3-none-manylinux_2_17_x86_64.whl"
        );
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(uv_wheel(empty.path()), None);
    }

    #[test]
    fn without_a_uv_wheel_the_fallback_runs() {
        let d = tempfile::tempdir().unwrap();
        let fallback = vec![Cmd::new("python3", ["-m", "venv", "/x"])];
        let mut r = crate::runner::RecordingRunner::default();
        provide_uv(Some(d.path()), &d.path().join("uv"), &fallback, &mut r).unwrap();
        assert_eq!(r.commands, fallback);
    }
}
