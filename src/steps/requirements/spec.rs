//! The `pip wheel` commands of the two specs, and how the plan shows them.

use std::fmt;
use std::path::Path;

use super::{ConstraintsSpec, WheelsSpec};
use crate::plan::Cmd;
use crate::steps::python::BuildConstraintMode;

impl WheelsSpec {
    /// The `pip wheel` command for one requirement, writing into `dir`, with the build
    /// constraints passed as `mode` says.
    pub fn command(&self, requirement: &str, dir: &Path, mode: BuildConstraintMode) -> Cmd {
        let mut cmd = Cmd::new(self.pip.pip.clone(), ["wheel"])
            .args(self.pip.args.iter().cloned())
            .args(["--find-links".to_string(), self.root.display().to_string()]);
        if !self.keep_all {
            cmd = cmd.arg("--no-deps");
        }
        cmd = cmd
            .args(["--wheel-dir".to_string(), dir.display().to_string()])
            .args([
                "-c".to_string(),
                self.root
                    .join("upper-constraints.txt")
                    .display()
                    .to_string(),
            ]);
        cmd = mode.apply(cmd, &self.build_constraints).arg(requirement);
        for (k, v) in &self.pip.env {
            cmd = cmd.env(k.clone(), v.clone());
        }
        cmd
    }
}

impl ConstraintsSpec {
    /// The `pip wheel` command for a git+ entry or a source tree (no constraints: the tree's
    /// own version would clash with the index's pin; build constraints, as `mode` says).
    pub fn command(&self, requirement: &str, dir: &Path, mode: BuildConstraintMode) -> Cmd {
        let cmd = Cmd::new(self.pip.pip.clone(), ["wheel"])
            .args(self.pip.args.iter().cloned())
            .args([
                "--no-deps".to_string(),
                "--wheel-dir".into(),
                dir.display().to_string(),
            ]);
        let mut cmd = mode.apply(cmd, &self.build_constraints).arg(requirement);
        for (k, v) in &self.pip.env {
            cmd = cmd.env(k.clone(), v.clone());
        }
        cmd
    }
}

impl fmt::Display for ConstraintsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "take upper-constraints.txt and global-requirements.txt from {} to {}",
            self.repo_dir.display(),
            self.root.display()
        )?;
        for d in &self.drops {
            write!(f, "\n      drop {} ({})", d.name, d.reason)?;
        }
        if !self.setuptools.is_empty() {
            write!(
                f,
                "\n      cap setuptools{} (SETUPTOOL_CONSTRAINT) in upper-constraints.txt and the build constraints",
                self.setuptools
            )?;
        }
        let example = self.command(
            "<entry>",
            &self.work.join("<n>"),
            BuildConstraintMode::Option,
        );
        write!(
            f,
            "\n      build git+ entries and source trees in {} (dirs with setup.cfg or pyproject.toml whose name, mapped by \
             python-custom-name-mapping.txt, is a constraint) first, {} at once: {example}\
             \n      pin them as name===version from the wheels; the wheels go to {}\
             \n      (a pip older than 25.3 gets the build constraints as PIP_CONSTRAINT=FILE instead of --build-constraint)",
            self.sources_dir.display(),
            self.jobs,
            self.root.display()
        )
    }
}

impl fmt::Display for WheelsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let example = self.command(
            "<constraint>",
            &self.work.join("<n>"),
            BuildConstraintMode::Option,
        );
        write!(f, "build a wheel for every constraint")?;
        if !self.extras.is_empty() {
            write!(f, " and {}", self.extras.join(" "))?;
        }
        for d in &self.not_built {
            write!(f, "\n      not built: {} ({})", d.name, d.reason)?;
        }
        if let Some(t) = &self.toolchain {
            write!(
                f,
                "\n      the toolchain of a service's venv, whatever KEEP_ALL_WHEELS says, beside the lookups below and into {} \
                 before the first pip wheel: {t}",
                self.root.display()
            )?;
        }
        match &self.only {
            Some(only) => write!(
                f,
                ", only these {} (REQUIREMENTS_ONLY): {}",
                only.len(),
                only.join(" ")
            )?,
            None => write!(f, ", all of them")?,
        }
        if self.prefetch {
            write!(
                f,
                "\n      first look up every pinned constraint (name===version, no markers or extras) on pip's index (PEP 691 JSON, \
                 the index of `pip config list` or PIP_WHEEL_ARGS' --index-url, PyPI by default), for this venv's tags (`pip debug --verbose`), \
                 at least {} at once (REQUIREMENTS_PREFETCH=True)",
                self.jobs.max(super::prefetch::MIN_THREADS)
            )?;
            if self.keep_all {
                write!(
                    f,
                    "\n      binary wheels for this platform are downloaded directly into {} (sha256 checked; KEEP_ALL_WHEELS=True), \
                     then one offline `pip install --dry-run` checks their dependencies are there, and one `pip wheel -r` fetches any that are not",
                    self.root.display()
                )?;
            } else {
                write!(
                    f,
                    "\n      constraints with a binary wheel for this platform are not built (LOCI drops downloaded wheels; KEEP_ALL_WHEELS=False)"
                )?;
            }
            write!(
                f,
                "\n      only the rest goes to pip wheel; no prefetch when pip's configuration or PIP_WHEEL_ARGS sets extra-index-url, \
                 find-links, no-index, only-binary, no-binary, prefer-binary, platform, python-version, abi, implementation or pre"
            )?;
            if let Err(why) = super::prefetch::args_index(&self.pip.args) {
                write!(f, " (so none here: {why})")?;
            }
        } else {
            write!(
                f,
                "\n      no prefetch (REQUIREMENTS_PREFETCH=False): one pip wheel per constraint"
            )?;
        }
        match &self.cache {
            Some(dir) => write!(
                f,
                "\n      wheel cache {}: downloads by sha256 (the closure fetch's too, seeding the next offline closure check); each pip wheel's kept wheels by its requirement, PIP_WHEEL_ARGS, \
                 environment, Python, tags and installed packages, used while the constraints of every project in them \
                 (and of their build dependencies) are the same; only the rest is built (decided and logged at build time)",
                dir.display()
            )?,
            None => write!(f, "\n      no wheel cache (PACKAGE_CACHE=False)")?,
        }
        if let Some(b) = &self.build_packages {
            write!(
                f,
                "\n      before the first pip wheel (none when nothing is built): install the {} build packages of the packages step",
                b.packages.len()
            )?;
        }
        write!(f, "\n      {} at once, each: {example}", self.jobs)?;
        if self.keep_all {
            write!(
                f,
                "\n      keep every wheel, dependencies included (KEEP_ALL_WHEELS=True)"
            )?;
        } else {
            write!(
                f,
                "\n      keep only the wheels pip built (`Created wheel` in its log), drop the binary wheels it downloaded (KEEP_ALL_WHEELS=False)"
            )?;
        }
        write!(
            f,
            "\n      collect every failure, report them all at the end"
        )
    }
}
