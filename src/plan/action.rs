//! What a step does, as data: [`Action`], either a command or the in-process action of the
//! step module that owns it, one enum per module ([`PackagesAction`], [`WheelsAction`], ...).
//!
//! This is vocabulary only. How an action is shown (`impl Display`) and what it does (its
//! `run`) live in the step module that owns it (`steps::<module>`), and `steps` dispatches
//! per module, so adding an action to a step means a variant here and its arms in that one
//! module.

use std::path::PathBuf;

use serde::ser::{Serialize, Serializer};

use super::hook::{Hook, HorizonHook, KeystoneHook, NovaHook, SkylineHook};
use super::requirements::{ConstraintsSpec, WheelsSpec};
use super::user::User;
use crate::config::WheelsSource;
use crate::process::Cmd;

/// One thing a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a command; fail the step on a non-zero exit.
    Run { cmd: Cmd },
    /// `steps::packages`: installs and purges of system packages.
    Packages(PackagesAction),
    /// `steps::preflight`: the package names, checked before the first change.
    Preflight(PreflightAction),
    /// `steps::base`.
    Base(BaseAction),
    /// `steps::venv`: the build's uv and the venv's toolchain.
    Venv(VenvAction),
    /// `steps::wheels`: the wheels and the constraints.
    Wheels(WheelsAction),
    /// `steps::libraries`: the shared libraries of a two-stage build.
    Libraries(LibrariesAction),
    /// `steps::user`.
    User(UserAction),
    /// `steps::source`: git clones.
    Source(SourceAction),
    /// `steps::coverage`: the install covers the source trees' packages.
    Coverage(CoverageAction),
    /// `steps::project_specific`: a project-specific hook.
    Project(Hook),
    /// `steps::config_files`.
    ConfigFiles(ConfigFilesAction),
    /// `steps::image_info`: /etc/image_info.
    Info(InfoAction),
    /// `steps::seal`.
    Seal(SealAction),
    /// `steps::cleanup`: removals.
    Cleanup(CleanupAction),
    /// `steps::requirements`: a requirements image's wheels.
    Requirements(RequirementsAction),
}

/// A package the build installs, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Wanted {
    pub name: String,
    /// `DIST_PACKAGES`, `bindep.txt:57`, `loci's base packages`, ...
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PackagesAction {
    /// Install system packages: only the missing ones, refreshing the package index first
    /// (once per build) when anything is missing. `install` is the command for the full list.
    #[serde(rename = "install_packages")]
    Install {
        packages: Vec<String>,
        refresh: Option<Cmd>,
        install: Cmd,
    },
    /// Purge those of `packages` that are installed (`purge` is the command for all of them);
    /// nothing runs when none is.
    #[serde(rename = "purge_packages")]
    Purge { packages: Vec<String>, purge: Cmd },
    /// Purge those of `packages` that this build installed (a plugin's: the image it builds
    /// on may keep them); nothing runs when it installed none.
    #[serde(rename = "purge_packages_installed_here")]
    PurgeInstalledHere { packages: Vec<String>, purge: Cmd },
    /// Runtime stage: install the packages listed in `file` (written by
    /// [`LibrariesAction::RecordVenvLibraries`] in the builder stage) that are missing.
    #[serde(rename = "install_listed_packages")]
    InstallListed { file: PathBuf, refresh: Option<Cmd> },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PreflightAction {
    /// Check that every package of `packages` that is not installed yet is in the package
    /// index (refreshing it first, once per build), failing with each missing name's origin.
    CheckPackages {
        packages: Vec<Wanted>,
        refresh: Option<Cmd>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum BaseAction {
    /// Run `python3` to learn its minor version, then install `libpython3.X` (releases whose
    /// default Python loci does not know) with `install`, the distro's install command.
    InstallLibpython { install: Cmd },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum VenvAction {
    /// Put the build's uv at `dir/bin/uv`: from the newest uv wheel in `wheels`, else by running
    /// `fallback` (a venv at `dir` with uv pip-installed).
    ProvideUv {
        wheels: Option<PathBuf>,
        dir: PathBuf,
        fallback: Vec<Cmd>,
    },
    /// Run `offline` (the wheels alone); when it fails, `online` (the index too).
    PreferOffline { offline: Cmd, online: Cmd },
    /// A venv made without pip gets its toolchain from the distro's bundled pip wheel, run in
    /// place: `install`'s program (the venv's python) with `WHEEL/pip` before its arguments,
    /// WHEEL the newest `pip-*.whl` of `bundled`; without such a wheel, `fallback`
    /// (ensurepip, then the same install with the venv's pip). Saves ensurepip's install of
    /// the bundled pip and setuptools that the install then replaces.
    BootstrapPip {
        bundled: PathBuf,
        install: Cmd,
        fallback: Vec<Cmd>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum WheelsAction {
    /// Fetch the wheels into `dest` (unless `source` is a directory used in place).
    FetchWheels { source: WheelsSource, dest: PathBuf },
    /// Write `dir/upper-constraints.txt` (the wheels' copy without the line pinning the project
    /// itself) and `dir/global-requirements.txt` (the wheels' copy, or empty when they have none).
    PrepareConstraints {
        wheels: PathBuf,
        dir: PathBuf,
        project: String,
    },
    /// No wheels: fetch the upper-constraints at `source` (URL or file) and write
    /// `dir/upper-constraints.txt` (without the project's pin), an empty
    /// `dir/global-requirements.txt` and `dir/build-constraints.txt` (with the setuptools cap).
    FetchConstraints {
        source: String,
        dir: PathBuf,
        project: String,
        setuptools: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum LibrariesAction {
    /// Builder stage: find the shared libraries the venv's compiled modules link to outside the
    /// venv, and write the distro packages that provide them to `out`, one a line.
    RecordVenvLibraries { venv: PathBuf, out: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum UserAction {
    /// Create a group and a user (checking that the ids are free), and own its directories.
    CreateUser { user: User },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SourceAction {
    /// Clone `repo` at `reference` into `dest`; skipped if `dest` exists (pre-seeded sources).
    GitClone {
        /// Prefix of the build arguments naming this source (`PROJECT`, `NOVNC`, `SPICE`).
        var: String,
        repo: String,
        reference: String,
        dest: PathBuf,
        /// Fetch only the one commit and remove `.git` afterwards (web consoles).
        shallow_no_git: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ConfigFilesAction {
    /// Copy the default config files of the project from the venv to /etc/PROJECT.
    CopyConfigFiles { from: PathBuf, to: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum InfoAction {
    /// Write /etc/image_info.
    CollectInfo { dir: PathBuf },
    /// Once every other step has run: every step's time into `dir/image_info.json` (none with
    /// SOURCE_DATE_EPOCH), and the SBOM of the image as it is left.
    FinishInfo { dir: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CoverageAction {
    /// Check that the RECORD of what was installed into `venv` from each of `trees` holds every
    /// file of the tree's packages (less what the project excludes on purpose).
    #[serde(rename = "check_install_coverage")]
    CheckInstall { venv: PathBuf, trees: Vec<PathBuf> },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SealAction {
    /// Set the time of everything below `root` that this build wrote to `epoch`
    /// (SOURCE_DATE_EPOCH), staying on `root`'s file system.
    ClampMtimes { root: PathBuf, epoch: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CleanupAction {
    /// Remove files and directories (missing ones are fine); `contents_only` keeps the directory.
    Remove {
        paths: Vec<PathBuf>,
        contents_only: bool,
    },
    /// Delete `*.pyc` files and `__pycache__` directories below `roots`.
    DeleteBytecode { roots: Vec<PathBuf> },
    /// Set `include-system-site-packages = true` in the venv's pyvenv.cfg.
    SystemSitePackages { venv: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RequirementsAction {
    /// PROJECT=requirements: adjust the constraints, build and pin their git+ entries and
    /// source trees.
    RequirementsConstraints { spec: Box<ConstraintsSpec> },
    /// PROJECT=requirements: a wheel for every constraint, in parallel.
    RequirementsWheels { spec: Box<WheelsSpec> },
    /// Delete everything at `root` except `*.whl` and `*.txt`, leaving mount points alone.
    PurgeRoot { root: PathBuf },
    /// PROJECT=requirements: the system packages to build with are not installed here but by
    /// the `requirements` step, when and only when it has something to build.
    BuildPackagesDeferred { packages: Vec<String> },
}

/// The JSON of an action (`loci plan --json`): `{"action": "snake_case_name", fields...}`,
/// whichever module owns it.
impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        #[serde(tag = "action", rename_all = "snake_case")]
        enum Own<'a> {
            Run {
                cmd: &'a Cmd,
            },
            ProjectHook {
                #[serde(flatten)]
                hook: &'a Hook,
            },
        }
        match self {
            Action::Run { cmd } => Own::Run { cmd }.serialize(s),
            Action::Project(hook) => Own::ProjectHook { hook }.serialize(s),
            Action::Packages(a) => a.serialize(s),
            Action::Preflight(a) => a.serialize(s),
            Action::Base(a) => a.serialize(s),
            Action::Venv(a) => a.serialize(s),
            Action::Wheels(a) => a.serialize(s),
            Action::Libraries(a) => a.serialize(s),
            Action::User(a) => a.serialize(s),
            Action::Source(a) => a.serialize(s),
            Action::Coverage(a) => a.serialize(s),
            Action::ConfigFiles(a) => a.serialize(s),
            Action::Info(a) => a.serialize(s),
            Action::Seal(a) => a.serialize(s),
            Action::Cleanup(a) => a.serialize(s),
            Action::Requirements(a) => a.serialize(s),
        }
    }
}

macro_rules! from_module_action {
    ($($ty:ident => $variant:ident),* $(,)?) => {
        $(impl From<$ty> for Action {
            fn from(a: $ty) -> Self {
                Action::$variant(a)
            }
        })*
    };
}

/// A project's hook is an action of the project-specific step.
macro_rules! from_project_hook {
    ($($ty:ident),* $(,)?) => {
        $(impl From<$ty> for Action {
            fn from(h: $ty) -> Self {
                Action::Project(h.into())
            }
        })*
    };
}

from_project_hook!(NovaHook, HorizonHook, KeystoneHook, SkylineHook);

from_module_action!(
    PackagesAction => Packages,
    PreflightAction => Preflight,
    BaseAction => Base,
    VenvAction => Venv,
    WheelsAction => Wheels,
    LibrariesAction => Libraries,
    UserAction => User,
    SourceAction => Source,
    CoverageAction => Coverage,
    Hook => Project,
    ConfigFilesAction => ConfigFiles,
    InfoAction => Info,
    SealAction => Seal,
    CleanupAction => Cleanup,
    RequirementsAction => Requirements,
);
