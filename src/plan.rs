//! The build plan: ordered steps, each a list of actions with resolved inputs.
//!
//! A plan is computed from the [`Config`] and the [`Distro`] without changing anything (it only
//! reads the bindep/pydep files), so `loci plan` can print it on any host and tests can assert on
//! it for every distro. Execution ([`crate::exec`]) is a thin layer that walks the actions.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::{Config, WheelsSource};
use crate::distro::Distro;
use crate::error::Result;
use crate::host::Host;
pub use crate::process::Cmd;

pub mod requirements;
use crate::steps;

/// A user account to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: String,
    pub comment: String,
    /// Directories created and owned by the user.
    pub dirs: Vec<PathBuf>,
}

/// One thing a step does. Commands run external tools; the other variants are done in-process
/// by the step module that owns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Run a command; fail the step on a non-zero exit.
    Run { cmd: Cmd },
    /// Install system packages: only the missing ones, refreshing the package index first
    /// (once per build) when anything is missing. `install` is the command for the full list.
    InstallPackages {
        packages: Vec<String>,
        refresh: Option<Cmd>,
        install: Cmd,
    },
    /// Check that every package of `packages` that is not installed yet is in the package
    /// index (refreshing it first, once per build), failing with each missing name's origin.
    CheckPackages {
        packages: Vec<steps::preflight::Wanted>,
        refresh: Option<Cmd>,
    },
    /// Run `python3` to learn its minor version, then install `libpython3.X` (releases whose
    /// default Python loci does not know) with `install`, the distro's install command.
    InstallLibpython { install: Cmd },
    /// Purge those of `packages` that are installed (`purge` is the command for all of them);
    /// nothing runs when none is.
    PurgePackages { packages: Vec<String>, purge: Cmd },
    /// Put the build's uv at `dir/bin/uv`: from the newest uv wheel in `wheels`, else by running
    /// `fallback` (a venv at `dir` with uv pip-installed).
    ProvideUv {
        wheels: Option<PathBuf>,
        dir: PathBuf,
        fallback: Vec<Cmd>,
    },
    /// Run `offline` (the wheels alone); when it fails, `online` (the index too).
    PreferOffline { offline: Cmd, online: Cmd },
    /// Fetch the wheels into `dest` (unless `source` is a directory used in place).
    FetchWheels { source: WheelsSource, dest: PathBuf },
    /// No wheels: fetch the upper-constraints at `source` (URL or file) and write
    /// `dir/upper-constraints.txt` (without the project's pin), an empty
    /// `dir/global-requirements.txt` and `dir/build-constraints.txt` (with the setuptools cap).
    FetchConstraints {
        source: String,
        dir: PathBuf,
        project: String,
        setuptools: String,
    },
    /// Builder stage: find the shared libraries the venv's compiled modules link to outside the
    /// venv, and write the distro packages that provide them to `out`, one a line.
    RecordVenvLibraries { venv: PathBuf, out: PathBuf },
    /// Runtime stage: install the packages listed in `file` (written by
    /// [`Action::RecordVenvLibraries`] in the builder stage) that are missing.
    InstallListedPackages { file: PathBuf, refresh: Option<Cmd> },
    /// Write `dir/upper-constraints.txt` (the wheels' copy without the line pinning the project
    /// itself) and `dir/global-requirements.txt` (the wheels' copy, or empty when they have none).
    PrepareConstraints {
        wheels: PathBuf,
        dir: PathBuf,
        project: String,
    },
    /// Create a group and a user (checking that the ids are free), and own its directories.
    CreateUser { user: User },
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
    /// A project-specific step implemented in [`crate::steps::project_specific`].
    ProjectHook {
        #[serde(flatten)]
        hook: steps::project_specific::Hook,
    },
    /// Copy the default config files of the project from the venv to /etc/PROJECT.
    CopyConfigFiles { from: PathBuf, to: PathBuf },
    /// Write /etc/image_info.
    CollectInfo { dir: PathBuf },
    /// Once every other step has run: every step's time into `dir/image_info.json` (none with
    /// SOURCE_DATE_EPOCH), and the SBOM of the image as it is left.
    FinishInfo { dir: PathBuf },
    /// Set the time of everything below `root` that this build wrote to `epoch`
    /// (SOURCE_DATE_EPOCH), staying on `root`'s file system.
    ClampMtimes { root: PathBuf, epoch: u64 },
    /// Remove files and directories (missing ones are fine); `contents_only` keeps the directory.
    Remove {
        paths: Vec<PathBuf>,
        contents_only: bool,
    },
    /// Delete `*.pyc` files and `__pycache__` directories below `roots`.
    DeleteBytecode { roots: Vec<PathBuf> },
    /// Set `include-system-site-packages = true` in the venv's pyvenv.cfg.
    SystemSitePackages { venv: PathBuf },
    /// PROJECT=requirements: adjust the constraints, build and pin their git+ entries and
    /// source trees ([`crate::steps::requirements::prepare`]).
    RequirementsConstraints {
        spec: Box<requirements::ConstraintsSpec>,
    },
    /// PROJECT=requirements: a wheel for every constraint, in parallel
    /// ([`crate::steps::requirements::build`]).
    RequirementsWheels { spec: Box<requirements::WheelsSpec> },
    /// Delete everything at `root` except `*.whl` and `*.txt`, leaving mount points alone.
    PurgeRoot { root: PathBuf },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Run { cmd } => write!(f, "run: {cmd}"),
            Action::InstallPackages { refresh, install, .. } => {
                write!(f, "install what is missing: ")?;
                if let Some(r) = refresh {
                    write!(f, "{r} && ")?;
                }
                write!(f, "{install}")
            }
            Action::CheckPackages { packages, refresh } => {
                write!(f, "look up in the package index those of these {} packages not installed yet", packages.len())?;
                if let Some(r) = refresh {
                    write!(f, " (after `{r}`, the build's one refresh)")?;
                }
                let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
                write!(f, ": {}", names.join(" "))
            }
            Action::InstallLibpython { .. } => write!(f, "detect python3's minor version, install libpython3.X"),
            Action::PurgePackages { purge, .. } => write!(f, "purge what is installed of: {purge}"),
            Action::ProvideUv { wheels, dir, fallback } => {
                write!(f, "the build's uv at {}/bin/uv: ", dir.display())?;
                if let Some(w) = wheels {
                    write!(f, "from the uv wheel in {}, else ", w.display())?;
                }
                let cmds: Vec<String> = fallback.iter().map(|c| c.to_string()).collect();
                write!(f, "{}", cmds.join(" && "))
            }
            Action::PreferOffline { offline, .. } => {
                write!(f, "run: {offline} (from the wheels alone; when they lack something, again without --no-index)")
            }
            Action::FetchWheels { source, dest } => match source {
                WheelsSource::Directory(d) => write!(f, "use wheels in place: {}", d.display()),
                WheelsSource::Tarball(p) => write!(f, "extract tarball {} -> {}", p.display(), dest.display()),
                WheelsSource::Url(u) => write!(f, "download and extract {u} -> {}", dest.display()),
                WheelsSource::Image(i) => write!(f, "pull last layer of image {i} -> {}", dest.display()),
                WheelsSource::Mounted { image, path } => {
                    write!(f, "use image {image} in place, mounted by BuildKit at {}", path.display())
                }
                WheelsSource::Index { constraints } => write!(f, "no wheels; constraints from {constraints}"),
            },
            Action::FetchConstraints { source, dir, project, setuptools } => write!(
                f,
                "fetch {source} -> {}/upper-constraints.txt without the pin of {project}; build constraints with setuptools{}",
                dir.display(),
                if setuptools.is_empty() { " unpinned" } else { setuptools }
            ),
            Action::RecordVenvLibraries { venv, out } => write!(
                f,
                "find the packages providing the shared libraries of {}'s compiled modules -> {}",
                venv.display(),
                out.display()
            ),
            Action::InstallListedPackages { file, .. } => {
                write!(f, "install what is missing of the packages listed in {}", file.display())
            }
            Action::PrepareConstraints { wheels, dir, project } => write!(
                f,
                "copy upper-constraints.txt and global-requirements.txt from {} to {} without the pin of {project}",
                wheels.display(),
                dir.display()
            ),
            Action::CreateUser { user } => write!(
                f,
                "create group {} ({}) and user {} ({}), home {}, shell {}; own {}",
                user.name,
                user.gid,
                user.name,
                user.uid,
                user.home.display(),
                user.shell,
                user.dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" ")
            ),
            Action::GitClone { repo, reference, dest, shallow_no_git, .. } => write!(
                f,
                "git clone {repo} at {reference} -> {}{}",
                dest.display(),
                if *shallow_no_git { " (shallow, .git removed)" } else { " (unless it exists)" }
            ),
            Action::ProjectHook { hook } => write!(f, "{hook}"),
            Action::CopyConfigFiles { from, to } => write!(f, "copy {}/* -> {}", from.display(), to.display()),
            Action::CollectInfo { dir } => write!(f, "write packages.txt, pip.txt, project.txt, inputs.env, image_info.json, sbom.cdx.json to {}", dir.display()),
            Action::FinishInfo { dir } => write!(f, "complete {}/image_info.json (step times) and sbom.cdx.json (the image as left)", dir.display()),
            Action::ClampMtimes { root, epoch } => write!(f, "set the time of everything this build wrote below {} to {epoch} (SOURCE_DATE_EPOCH)", root.display()),
            Action::Remove { paths, contents_only } => write!(
                f,
                "remove {}{}",
                if *contents_only { "the contents of " } else { "" },
                paths.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" ")
            ),
            Action::DeleteBytecode { roots } => write!(
                f,
                "delete *.pyc and __pycache__ under {}",
                roots.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" ")
            ),
            Action::SystemSitePackages { venv } => {
                write!(f, "set include-system-site-packages = true in {}/pyvenv.cfg", venv.display())
            }
            Action::RequirementsConstraints { spec } => write!(f, "{spec}"),
            Action::RequirementsWheels { spec } => write!(f, "{spec}"),
            Action::PurgeRoot { root } => write!(
                f,
                "delete everything at {} except *.whl and *.txt (mount points left alone)",
                root.display()
            ),
        }
    }
}

/// One step of the build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Short name used in logs, errors and image_info.json (`base`, `wheels`, `install`, ...).
    pub name: &'static str,
    /// One line saying what the step is for.
    pub summary: String,
    /// Packages this step installs, when it installs any (also inside `actions`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    pub actions: Vec<Action>,
}

impl Step {
    pub fn new(name: &'static str, summary: impl Into<String>) -> Self {
        Step {
            name,
            summary: summary.into(),
            packages: Vec::new(),
            actions: Vec::new(),
        }
    }

    pub fn action(mut self, a: Action) -> Self {
        self.actions.push(a);
        self
    }

    pub fn run(self, cmd: Cmd) -> Self {
        self.action(Action::Run { cmd })
    }
}

/// The whole build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub project: String,
    pub stage: Stage,
    pub distro: Distro,
    pub steps: Vec<Step>,
}

impl Plan {
    /// The step with this name, if the plan has it.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Every command of the plan, in order.
    pub fn commands(&self) -> impl Iterator<Item = &Cmd> {
        self.steps
            .iter()
            .flat_map(|s| s.actions.iter())
            .filter_map(|a| match a {
                Action::Run { cmd } => Some(cmd),
                _ => None,
            })
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "plan for {} on {} (stage {})",
            self.project,
            self.distro.label(),
            self.stage.name()
        )?;
        let n = self.steps.len();
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "[{}/{n}] {}: {}", i + 1, step.name, step.summary)?;
            if !step.packages.is_empty() {
                writeln!(f, "    packages: {}", step.packages.join(" "))?;
            }
            for a in &step.actions {
                writeln!(f, "    {a}")?;
            }
        }
        Ok(())
    }
}

/// Which part of a build to plan: the Dockerfile's targets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The whole image in one stage (target `project`, LOCI's); PROJECT=requirements builds
    /// the requirements image.
    #[default]
    Project,
    /// The requirements image (target `requirements`): PROJECT must be `requirements`.
    Requirements,
    /// Two-stage build, first stage (target `builder`): the venv in /var/lib/openstack, built with
    /// whatever it needs (compilers and -dev packages when there are no wheels), and the build
    /// facts in /etc/image_info. Only those two directories are kept.
    Builder,
    /// Two-stage build, final stage (target `runtime`): over the builder's venv and facts, the
    /// run-time packages (bindep's and those providing the venv's shared libraries), the user,
    /// the project-specific files, /etc/image_info and the cleanup.
    Runtime,
}

impl Stage {
    /// Every stage, in the Dockerfile's order.
    pub const ALL: [Stage; 4] = [
        Stage::Project,
        Stage::Requirements,
        Stage::Builder,
        Stage::Runtime,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Project => "project",
            Stage::Requirements => "requirements",
            Stage::Builder => "builder",
            Stage::Runtime => "runtime",
        }
    }
}

/// The inputs of planning besides the configuration: the distro and the dependency files.
pub struct PlanInput<'a> {
    pub config: &'a Config,
    /// The part of the build to plan (the Dockerfile's target).
    pub stage: Stage,
    pub distro: &'a Distro,
    /// The machine the build runs on (CPU count, architecture): this one for a build, a
    /// fixed [`Host::nominal`] for a plan of another (`loci plan --os-release`).
    pub host: Host,
    /// bindep files (`/opt/loci/bindep*`), as (name, text).
    pub bindep_files: Vec<(String, String)>,
    /// pydep files (`/opt/loci/pydep*`), as (name, text).
    pub pydep_files: Vec<(String, String)>,
}

/// Computes the plan of a `loci build`.
pub fn build_plan(input: &PlanInput) -> Result<Plan> {
    let steps = steps::plan_all(input)?;
    Ok(Plan {
        project: input.config.project.clone(),
        stage: input.stage,
        distro: input.distro.clone(),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_display_quoted_for_humans() {
        let c = Cmd::new("pip", ["install", "keystone[ldap]", "a b", "it's"]).env("X", "1");
        assert_eq!(
            c.to_string(),
            "X=1 pip install keystone[ldap] 'a b' 'it'\\''s'"
        );
    }
}
