//! The facts of the Python toolchain every step that installs Python packages shares: where
//! the wheels and the constraint files are, whether the build installs from the index (and
//! how the build constraints reach pip), the venv's programs, the build's uv, and the
//! `pip install` / `uv pip install` command lines with their cache arguments.
//!
//! One module, so that following INSTALLER, the wheels or the cache from a step leads here
//! and nowhere else; the steps (venv, install, pydep, requirements, skyline's console) import
//! it, and it imports no step.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Config, Installer, WheelsSource};
use crate::constraints;
use crate::error::{Error, Result};
use crate::name_mapping;
use crate::plan::{Cmd, PlanInput};
use crate::runner::Runner;

/// The virtualenv's pip, as an argument-vector program.
pub fn venv_bin(input: &PlanInput, tool: &str) -> String {
    input
        .config
        .paths
        .venv
        .join("bin")
        .join(tool)
        .display()
        .to_string()
}

/// The directory pip reads wheels from: WHEELS itself when it is a directory, else the wheels
/// dir the archive is extracted into.
/// `None` when the build has no wheels (packages come from the index).
pub fn wheels_dir(input: &PlanInput) -> Option<PathBuf> {
    match &input.config.wheels {
        Some(WheelsSource::Directory(d)) => Some(d.clone()),
        Some(WheelsSource::Mounted { path, .. }) => Some(path.clone()),
        Some(WheelsSource::Index { .. }) => None,
        _ => Some(input.config.paths.wheels_dir.clone()),
    }
}

/// Whether the build installs from the index (no requirements image): sdists are compiled, so
/// the build needs the build-time packages, and build constraints are passed.
pub fn from_index(input: &PlanInput) -> bool {
    matches!(input.config.wheels, Some(WheelsSource::Index { .. }))
}

/// Where the adjusted constraint files are written (the data dir, as LOCI does).
pub fn constraints_dir(input: &PlanInput) -> PathBuf {
    input.config.paths.data_dir.clone()
}

/// Where the build's uv is: a directory of the data dir (emptied at cleanup), never the venv.
pub fn build_uv_dir(input: &PlanInput) -> PathBuf {
    input.config.paths.data_dir.join("loci-uv")
}

/// The build's uv binary ([`crate::plan::VenvAction::ProvideUv`] puts it there).
pub fn build_uv(input: &PlanInput) -> String {
    build_uv_dir(input).join("bin/uv").display().to_string()
}

/// `pip install` as every install of a build runs it: binary wheels only (local source trees
/// are still built), no cache, no bytecode, the constraints, the wheels as a find-links
/// source, `--ignore-installed`, and PIP_ARGS. `no_index` adds `--no-index` (KEEP_ALL_WHEELS:
/// the wheels hold every dependency, so the index is never asked).
///
/// With INSTALLER=uv the same install is `uv pip install` into the venv's python; uv refuses
/// to build local source trees under `--only-binary :all:`, so the build's own trees (the
/// project and EXTRA_PROJECTS) are exempted by name with `--no-binary`.
///
/// Without wheels (WHEELS empty) packages come from the index: sdists are built (no
/// `--only-binary`), with the build constraints (upper-constraints and the setuptools cap) for
/// their build environments.
pub fn pip_install(input: &PlanInput, no_index: bool) -> Result<Cmd> {
    let c = input.config;
    let cdir = constraints_dir(input);
    let from_index = from_index(input);
    let mut constraints = vec![
        "-c".to_string(),
        cdir.join("global-requirements.txt").display().to_string(),
        "-c".into(),
        cdir.join("upper-constraints.txt").display().to_string(),
    ];
    if let Some(wheels) = wheels_dir(input) {
        constraints.extend(["--find-links".into(), wheels.display().to_string()]);
    }
    if from_index {
        constraints.extend([
            "--build-constraint".into(),
            cdir.join("build-constraints.txt").display().to_string(),
        ]);
    }
    let binary: &[&str] = if from_index {
        &[]
    } else {
        &["--only-binary", ":all:"]
    };
    let mut cmd = match c.installer {
        Installer::Pip => Cmd::new(venv_bin(input, "pip"), ["install"])
            .args(pip_cache_args(input))
            .args(binary.iter().copied())
            .arg("--no-compile")
            .args(constraints)
            .arg("--ignore-installed"),
        Installer::Uv => {
            let mut cmd = uv_pip_install(input).args(binary.iter().copied());
            let trees = local_tree_names(input)?;
            if !from_index {
                for name in &trees {
                    cmd = cmd.arg("--no-binary").arg(name);
                }
            }
            // uv's cache knows a local tree by its pyproject.toml/setup.* times and git commit
            // only: an edited file elsewhere would get the wheel built before. The build's own
            // trees are always built again.
            if c.cache_dir.is_some() {
                for name in &trees {
                    cmd = cmd.arg("--refresh-package").arg(name);
                }
            }
            cmd.args(constraints)
        }
    };
    if no_index && !from_index {
        cmd = cmd.arg("--no-index");
    }
    Ok(cmd.args(c.pip_args.iter().cloned()))
}

/// pip's cache options: the package cache's `pip` directory (PACKAGE_CACHE), else none at all
/// (`--no-cache-dir`, LOCI's).
pub fn pip_cache_args(input: &PlanInput) -> Vec<String> {
    match &input.config.cache_dir {
        Some(dir) => vec![
            "--cache-dir".into(),
            dir.join("python/pip").display().to_string(),
        ],
        None => vec!["--no-cache-dir".into()],
    }
}

/// `uv pip install` into the venv's python with the build's uv ([`build_uv`]):
/// with the package cache's `uv` directory (files copied out of it: it is another file
/// system), else `--no-cache`.
pub fn uv_pip_install(input: &PlanInput) -> Cmd {
    let cmd = Cmd::new(
        build_uv(input),
        [
            "pip".to_string(),
            "install".into(),
            "--python".into(),
            venv_bin(input, "python"),
        ],
    );
    match &input.config.cache_dir {
        Some(dir) => cmd.args([
            "--cache-dir".to_string(),
            dir.join("python/uv").display().to_string(),
            "--link-mode".into(),
            "copy".into(),
        ]),
        None => cmd.arg("--no-cache"),
    }
}

/// The distribution names of the source trees a build installs (the project and
/// EXTRA_PROJECTS): a tree already there names itself (PKG-INFO, setup.cfg, pyproject.toml:
/// the `placement` tree is `openstack-placement`), else its directory name goes through
/// python-custom-name-mapping.txt.
fn local_tree_names(input: &PlanInput) -> Result<Vec<String>> {
    let c = input.config;
    let mapping = name_mapping::load(&c.paths.loci_dir)?;
    let trees = super::source_tree::source_trees(input);
    let dirs = std::iter::once(&c.project).chain(c.extra_projects.iter());
    let mut names: Vec<String> = Vec::new();
    for (dir, tree) in dirs.zip(trees) {
        let name = super::source_tree::tree_name(&tree)
            .unwrap_or_else(|| name_mapping::pypi_for_dir(&mapping, dir));
        let name = crate::constraints::normalize(&name);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// `pip install` for child images (`loci pip-install`): the constraints recorded in
/// /etc/image_info when the image was built, and the wheels dir when one is present.
pub fn pip_install_in_image(c: &Config) -> Cmd {
    let mut cmd = Cmd::new(
        c.paths.venv.join("bin/pip").display().to_string(),
        ["install", "--no-cache-dir", "--no-compile"],
    );
    for f in ["global-requirements.txt", "upper-constraints.txt"] {
        let p = c.paths.image_info.join(f);
        if p.exists() {
            cmd = cmd.arg("-c").arg(p.display().to_string());
        }
    }
    if c.paths.wheels_dir.is_dir() {
        cmd = cmd
            .arg("--find-links")
            .arg(c.paths.wheels_dir.display().to_string());
    }
    cmd.args(c.pip_args.iter().cloned())
}

/// The build constraints of an install from the index: the upper-constraints, plus the
/// setuptools cap (SETUPTOOL_CONSTRAINT, LOCI master's `<81`: setuptools 82 removed
/// pkg_resources, which many sdists' setup.py still import).
pub fn build_constraints(upper: &str, setuptools: &str) -> String {
    let mut out = String::new();
    for line in upper.lines() {
        let pins_setuptools =
            constraints::line_name(line).is_some_and(|n| constraints::normalize(n) == "setuptools");
        if !setuptools.is_empty() && pins_setuptools {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !setuptools.is_empty() {
        out.push_str(&format!("setuptools{setuptools}\n"));
    }
    out
}

/// How a pip passes build constraints to the isolated environments it builds sdists in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildConstraintMode {
    /// `--build-constraint FILE` (pip 25.3 and newer, where `-c` and PIP_CONSTRAINT no longer
    /// reach the build environments).
    Option,
    /// `PIP_CONSTRAINT=FILE` in pip's environment (pip before 25.3, whose build environments
    /// inherit it).
    Environment,
}

/// The first pip release with `--build-constraint`.
pub const BUILD_CONSTRAINT_PIP: (u32, u32) = (25, 3);

impl BuildConstraintMode {
    /// The mode of the pip that printed `version` (`pip --version`: `pip 26.3 from ...`).
    pub fn of_pip(version: &str) -> Result<Self> {
        let number = version
            .split_whitespace()
            .skip_while(|w| *w != "pip")
            .nth(1)
            .unwrap_or_default();
        let mut parts = number.split('.').map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse::<u32>()
        });
        match (parts.next(), parts.next()) {
            (Some(Ok(major)), minor) => {
                let minor = minor.and_then(|m| m.ok()).unwrap_or(0);
                Ok(if (major, minor) >= BUILD_CONSTRAINT_PIP {
                    BuildConstraintMode::Option
                } else {
                    BuildConstraintMode::Environment
                })
            }
            _ => Err(Error::new(format!(
                "cannot tell pip's version from {:?}",
                crate::error::cut(version.trim(), crate::error::QUOTE_MAX)
            ))
            .hint("`pip --version` should print `pip X.Y from ...`; check the venv's pip (PIP_VERSION_CONSTRAINT)")),
        }
    }

    /// Asks the venv's `pip` for its version.
    pub fn detect(pip: &str, runner: &mut dyn Runner) -> Result<Self> {
        Self::of_pip(&runner.output(&Cmd::new(pip, ["--version"]))?)
    }

    /// Adds the build constraints in `file` to a pip command, as this mode passes them.
    pub fn apply(self, cmd: Cmd, file: &Path) -> Cmd {
        let file = file.display().to_string();
        match self {
            BuildConstraintMode::Option => cmd.args(["--build-constraint".to_string(), file]),
            BuildConstraintMode::Environment => cmd.env("PIP_CONSTRAINT", file),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_constraints_cap_setuptools_instead_of_pinning_it() {
        let b = build_constraints("pbr===7.0.3\nSetuptools===82.0.0\n", "<81");
        assert_eq!(b, "pbr===7.0.3\nsetuptools<81\n");
        assert_eq!(build_constraints("pbr===7.0.3\n", ""), "pbr===7.0.3\n");
    }

    #[test]
    fn build_constraints_go_by_option_from_pip_25_3_and_by_environment_before() {
        for (out, want) in [
            (
                "pip 26.3 from /v/lib/python3.11/site-packages/pip (python 3.11)",
                BuildConstraintMode::Option,
            ),
            (
                "pip 25.3 from /x (python 3.12)",
                BuildConstraintMode::Option,
            ),
            (
                "pip 25.2 from /x (python 3.12)",
                BuildConstraintMode::Environment,
            ),
            (
                "pip 24.0 from /x (python 3.11)",
                BuildConstraintMode::Environment,
            ),
            ("pip 100.0.1 from /x", BuildConstraintMode::Option),
            ("pip 25.3rc1 from /x", BuildConstraintMode::Option),
        ] {
            assert_eq!(BuildConstraintMode::of_pip(out).unwrap(), want, "{out}");
        }
        let e = BuildConstraintMode::of_pip("bash: pip: not found")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot tell pip's version"), "{e}");
        let file = Path::new("/tmp/b.txt");
        let cmd = Cmd::new("pip", ["wheel"]);
        let with = BuildConstraintMode::Option.apply(cmd.clone(), file);
        assert_eq!(with.args, ["wheel", "--build-constraint", "/tmp/b.txt"]);
        assert!(with.env.is_empty());
        let with = BuildConstraintMode::Environment.apply(cmd, file);
        assert_eq!(with.args, ["wheel"]);
        assert_eq!(
            with.env,
            [("PIP_CONSTRAINT".to_string(), "/tmp/b.txt".to_string())]
        );
    }
}
