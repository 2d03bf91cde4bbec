//! The specs of a requirements build's two in-process actions, as the plan carries them
//! ([`crate::plan::RequirementsAction::RequirementsConstraints`], [`crate::plan::RequirementsAction::RequirementsWheels`]):
//! plain data; the step ([`crate::steps::requirements`]) owns what they do.

use std::path::PathBuf;

use serde::Serialize;

use crate::process::Cmd;

/// The system packages a requirements build compiles with (the `packages` step's), installed
/// by the `requirements` step only when it has something to build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildPackages {
    pub packages: Vec<String>,
    /// The package index refresh (run once per build, before the first install).
    pub refresh: Option<Cmd>,
}

/// A constraint dropped before building, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropRule {
    /// The project name (compared after PEP 503 normalisation).
    pub name: String,
    pub reason: String,
}

/// A `pip wheel` template: the venv's pip, PIP_WHEEL_ARGS, and the environment of every run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipWheel {
    pub pip: String,
    /// PIP_WHEEL_ARGS, with `-v` balancing any `-q` (pip must print its `Created wheel` lines).
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// What [`crate::plan::RequirementsAction::RequirementsConstraints`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConstraintsSpec {
    /// The requirements repository clone (/tmp/requirements).
    pub repo_dir: PathBuf,
    /// The image root, where both files and every kept wheel end up (`/`).
    pub root: PathBuf,
    /// Scratch space: per-build wheel directories and logs.
    pub work: PathBuf,
    /// Scanned for source trees that replace constraints (the data dir, /tmp).
    pub sources_dir: PathBuf,
    /// Source trees are never looked for in these directories of `sources_dir`.
    pub skip_dirs: Vec<String>,
    /// (package name, PyPI name) pairs of python-custom-name-mapping.txt.
    pub name_mapping: Vec<(String, String)>,
    pub drops: Vec<DropRule>,
    pub pip: PipWheel,
    pub jobs: usize,
    /// SETUPTOOL_CONSTRAINT: the cap on setuptools added to upper-constraints.txt (the image's
    /// copy, so that services install a setuptools within it too) and to the build constraints.
    pub setuptools: String,
    /// The build constraints of the source builds (the named constraints and the setuptools
    /// cap; the git+ entries are not constraints pip takes).
    pub build_constraints: PathBuf,
    /// The system packages to build with (the `packages` step's, deferred): installed before
    /// the first source build, none when there is nothing to build.
    pub build_packages: Option<BuildPackages>,
}

/// What [`crate::plan::RequirementsAction::RequirementsWheels`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WheelsSpec {
    /// The image root: holds upper-constraints.txt (the build constraints) and receives the wheels.
    pub root: PathBuf,
    /// Scratch space: per-build wheel directories and logs.
    pub work: PathBuf,
    /// Built besides the constraints (uwsgi, enum-compat, PIP_PACKAGES).
    pub extras: Vec<String>,
    /// REQUIREMENTS_ONLY / REQUIREMENTS_ONLY_FILE: build only these (PEP 503 names); `None`
    /// builds everything.
    pub only: Option<Vec<String>>,
    /// KEEP_ALL_WHEELS: build with dependencies and keep every wheel.
    pub keep_all: bool,
    /// Constraints kept in upper-constraints.txt but not built (`steps::requirements::not_built`); PIP_PACKAGES
    /// naming them are built.
    pub not_built: Vec<DropRule>,
    /// How many `pip wheel` run at once.
    pub jobs: usize,
    /// REQUIREMENTS_PREFETCH: look the plain pins up on pip's index first (PEP 691) and leave
    /// to `pip wheel` only what has no binary wheel for the target (see the step's `prefetch`).
    pub prefetch: bool,
    pub pip: PipWheel,
    /// The build constraints of every `pip wheel` (LOCI's `--build-constraint`): the image's
    /// upper-constraints.txt, which carries the setuptools cap.
    pub build_constraints: PathBuf,
    /// The wheel cache (`steps::requirements::reuse`) in the Python package cache; `None`
    /// without PACKAGE_CACHE.
    pub cache: Option<PathBuf>,
    /// The system packages to build with (the `packages` step's, deferred): installed before
    /// the first `pip wheel`, none when the prefetch and the cache leave nothing to build.
    pub build_packages: Option<BuildPackages>,
    /// The toolchain of a service's venv (`pip download` into the work dir's `toolchain`),
    /// run beside the prefetch's lookups and moved into the root before the first build.
    pub toolchain: Option<Cmd>,
}
