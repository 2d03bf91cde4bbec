//! Step `venv`: the virtualenv at /var/lib/openstack with an up-to-date pip toolchain.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use super::python::{self, build_uv_dir, venv_bin};
use crate::config::Installer;
use crate::error::{Context, Error, Result};
use crate::plan::{Cmd, PlanInput, Step, VenvAction};
use crate::runner::{self, Runner};

/// Plans the venv and its toolchain: pip, setuptools and wheel, each with its constraint
/// suffix (PIP_VERSION_CONSTRAINT, SETUPTOOL_CONSTRAINT, WHEEL_CONSTRAINT, e.g. `<25`), and
/// for a service VENV_TOOLS ([`crate::config::args::VENV_TOOLS`]).
///
/// With INSTALLER=uv (a service's build) the venv is made without pip (`python3 -m venv
/// --without-pip`, no ensurepip run) and the build's uv ([`python::build_uv`], taken from the wheels)
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
        // A requirements build has no wheels yet: its toolchain comes from the index alone,
        // installed by the distro's bundled pip run from its wheel (the venv is deleted at the
        // end of the build: only the wheels it builds are kept).
        let install: Vec<String> = ["install".to_string(), "--upgrade".to_string()]
            .into_iter()
            .chain(python::pip_cache_args(input))
            .chain(["--no-compile".to_string()])
            .chain(c.pip_args.iter().cloned())
            .chain(tools)
            .collect();
        return Ok(Some(
            Step::new("venv", format!("virtualenv at {venv}"))
                .run(Cmd::new(
                    "python3",
                    ["-m", "venv", "--without-pip", venv.as_str()],
                ))
                .action(VenvAction::BootstrapPip {
                    bundled: PathBuf::from(BUNDLED_WHEELS),
                    install: Cmd::new(venv_bin(input, "python3"), install.clone()),
                    fallback: vec![
                        Cmd::new(venv_bin(input, "python3"), ["-m", "ensurepip"]),
                        Cmd::new(venv_bin(input, "pip"), install),
                    ],
                }),
        ));
    }
    // LOCI master's setup_venv: the tools stay in the image for child images.
    tools.extend(c.venv_tools.iter().cloned());
    // A service's toolchain comes from its wheels first, within the upper-constraints (the
    // wheels step ran before): unconstrained, the toolchain's own dependencies (wheel needs
    // packaging) would be the newest, and the install step's pinned copy would land beside
    // them, leaving two dist-info directories of one package in the venv.
    let upper = python::constraints_dir(input).join("upper-constraints.txt");
    let mut sources = vec!["-c".to_string(), upper.display().to_string()];
    let wheels = python::wheels_dir(input);
    if let Some(w) = &wheels {
        sources.extend(["--find-links".to_string(), w.display().to_string()]);
    }
    let step = Step::new("venv", format!("virtualenv at {venv}"));
    match c.installer {
        Installer::Pip => {
            let pip = Cmd::new(venv_bin(input, "pip"), ["install", "--upgrade"])
                .args(python::pip_cache_args(input))
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
            let online = python::uv_pip_install(input)
                .args(sources)
                .args(c.pip_args.iter().cloned())
                .args(tools);
            let step = step.action(provide_uv_action(input)).run(Cmd::new(
                "python3",
                ["-m", "venv", "--without-pip", venv.as_str()],
            ));
            Ok(Some(match wheels {
                Some(_) => step.action(VenvAction::PreferOffline {
                    offline: online.clone().arg("--no-index"),
                    online,
                }),
                None => step.run(online),
            }))
        }
    }
}

impl fmt::Display for VenvAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VenvAction::ProvideUv {
                wheels,
                dir,
                fallback,
            } => {
                write!(f, "the build's uv at {}/bin/uv: ", dir.display())?;
                if let Some(w) = wheels {
                    write!(f, "from the uv wheel in {}, else ", w.display())?;
                }
                let cmds: Vec<String> = fallback.iter().map(|c| c.to_string()).collect();
                write!(f, "{}", cmds.join(" && "))
            }
            VenvAction::BootstrapPip {
                bundled,
                install,
                fallback,
            } => {
                let args = install.args.join(" ");
                let cmds: Vec<String> = fallback.iter().map(|c| c.to_string()).collect();
                write!(
                    f,
                    "run: {} {}/pip-*.whl/pip {args} (the bundled pip, from its wheel), else {}",
                    install.program,
                    bundled.display(),
                    cmds.join(" && ")
                )
            }
            VenvAction::PreferOffline { offline, .. } => write!(
                f,
                "run: {offline} (from the wheels alone; when they lack something, again without --no-index)"
            ),
        }
    }
}

/// Runs one action of this module.
pub fn run(action: &VenvAction, ctx: &mut runner::Context) -> Result<()> {
    match action {
        VenvAction::ProvideUv {
            wheels,
            dir,
            fallback,
        } => provide_uv(wheels.as_deref(), dir, fallback, ctx.runner),
        VenvAction::PreferOffline { offline, online } => {
            prefer_offline(offline, online, ctx.runner)
        }
        VenvAction::BootstrapPip {
            bundled,
            install,
            fallback,
        } => bootstrap_pip(bundled, install, fallback, ctx.runner),
    }
}

/// Where Debian and Ubuntu keep the wheels ensurepip installs (python3-pip-whl).
pub const BUNDLED_WHEELS: &str = "/usr/share/python-wheels";

/// [`VenvAction::BootstrapPip`].
pub fn bootstrap_pip(
    bundled: &Path,
    install: &Cmd,
    fallback: &[Cmd],
    runner: &mut dyn Runner,
) -> Result<()> {
    match newest_wheel(bundled, "pip-") {
        Some(wheel) => {
            let mut cmd = Cmd::new(
                install.program.clone(),
                [format!("{}/pip", wheel.display())],
            );
            cmd.args.extend(install.args.iter().cloned());
            runner.run(&cmd)
        }
        None => {
            crate::say!(
                "no pip wheel in {}: the venv's pip from ensurepip",
                bundled.display()
            );
            fallback.iter().try_for_each(|c| runner.run(c))
        }
    }
}

/// The newest `PREFIX<version>-*.whl` of `dir` (by version), if any.
fn newest_wheel(dir: &Path, prefix: &str) -> Option<PathBuf> {
    let mut found: Vec<(Vec<u64>, PathBuf)> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let rest = name.strip_prefix(prefix)?.strip_suffix(".whl")?;
            let version = rest.split('-').next()?;
            let key: Vec<u64> = version.split('.').map(|n| n.parse().unwrap_or(0)).collect();
            Some((key, p))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// [`VenvAction::ProvideUv`] for this build: uv's wheel from the wheels, else `pip install uv` into
/// a venv of its own in the data dir.
pub(crate) fn provide_uv_action(input: &PlanInput) -> VenvAction {
    let dir = build_uv_dir(input);
    let upper = python::constraints_dir(input).join("upper-constraints.txt");
    let fallback = vec![
        Cmd::new(
            "python3",
            ["-m", "venv", dir.display().to_string().as_str()],
        ),
        Cmd::new(
            dir.join("bin/pip").display().to_string(),
            ["install", "--no-compile"],
        )
        .args(python::pip_cache_args(input))
        .args(["-c".to_string(), upper.display().to_string()])
        .args(input.config.pip_args.iter().cloned())
        .arg("uv"),
    ];
    VenvAction::ProvideUv {
        wheels: python::wheels_dir(input),
        dir,
        fallback,
    }
}

/// [`crate::plan::VenvAction::ProvideUv`]: `dir/bin/uv` from the newest `uv-*.whl` of `wheels` (its
/// `uv-VERSION.data/scripts/uv`, taken out with Python's own zipfile module), else the
/// `fallback` commands (a venv at `dir` with uv pip-installed from the index).
pub fn provide_uv(
    wheels: Option<&Path>,
    dir: &Path,
    fallback: &[Cmd],
    runner: &mut dyn Runner,
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
    newest_wheel(dir, "uv-")
}

/// [`crate::plan::VenvAction::PreferOffline`]: `offline` with its output kept back; when it fails (the wheels
/// lack something), `online`.
pub fn prefer_offline(offline: &Cmd, online: &Cmd, runner: &mut dyn Runner) -> Result<()> {
    crate::say!("+ {offline}");
    match runner.output(offline) {
        Ok(_) => Ok(()),
        Err(e) => {
            // Stopped by an interrupt: not a reason to try the index.
            crate::interrupt::check()?;
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

    /// The newest bundled pip wheel runs the install in place; without one, ensurepip's way.
    #[test]
    fn the_bundled_pip_wheel_installs_the_toolchain_else_ensurepip() {
        let d = tempfile::tempdir().unwrap();
        for w in [
            "pip-9.0.1-py2.py3-none-any.whl",
            "pip-23.0.1-py3-none-any.whl",
            "setuptools-66.1.1-py3-none-any.whl",
        ] {
            std::fs::write(d.path().join(w), "").unwrap();
        }
        let install = Cmd::new("/v/bin/python3", ["install", "--upgrade", "pip", "wheel"]);
        let fallback = vec![
            Cmd::new("/v/bin/python3", ["-m", "ensurepip"]),
            Cmd::new("/v/bin/pip", ["install", "--upgrade", "pip", "wheel"]),
        ];
        let mut r = crate::runner::RecordingRunner::default();
        bootstrap_pip(d.path(), &install, &fallback, &mut r).unwrap();
        let wheel = d.path().join("pip-23.0.1-py3-none-any.whl/pip");
        assert_eq!(
            r.commands,
            [Cmd::new(
                "/v/bin/python3",
                [
                    wheel.display().to_string().as_str(),
                    "install",
                    "--upgrade",
                    "pip",
                    "wheel"
                ]
            )]
        );
        let empty = tempfile::tempdir().unwrap();
        let mut r = crate::runner::RecordingRunner::default();
        bootstrap_pip(empty.path(), &install, &fallback, &mut r).unwrap();
        assert_eq!(r.commands, fallback);
    }
}
