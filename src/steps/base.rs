//! Step `base`: refresh the package index once and install what every image needs.

use std::fmt;
use std::path::{Path, PathBuf};

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
    let why_git = why_git(input);
    let mut packages = if why_git.is_some() {
        d.build_tools()
    } else {
        Vec::new()
    };
    packages.extend(d.base_packages());
    let mut summary = format!("base packages for {}", d.label());
    if let Some(why) = why_git {
        summary.push_str(&format!("; git for pbr and pip ({why})"));
    }
    let mut step = Step::new("base", summary).action(super::packages::install_action(d, &packages));
    if d.family == crate::distro::Family::Debian && d.python.is_none() {
        step = step.action(BaseAction::InstallLibpython {
            install: d.install_cmd(&[]),
        });
    }
    step.packages = packages;
    Ok(Some(step))
}

/// Whether the build installs git (and purges it at cleanup): the one place that decides it.
///
/// - A requirements build always may run git (git+ constraints, source trees); so does a
///   `git+` requirement in PIP_PACKAGES (pip clones it).
/// - The runtime stage and the infra image build nothing from source.
/// - A service needs git unless every source tree it pip-installs ([`source_trees`]) builds
///   the same without it ([`git_reason`]). pbr asks git for a checkout's version, and when the
///   tree (or a directory above it) holds `.git` it lists the package's files with `git
///   ls-files` and nothing else: without git such a build installs the top-level modules
///   only (keystone 29's `pbr.build` sdist: 13 wheel entries instead of 606), and says
///   nothing. Only an sdist tree without `.git` (PKG-INFO, and the file list in its
///   egg-info's SOURCES.txt) builds the same wheel with and without git (checked file by
///   file for keystone, cinder, neutron and horizon 2026.1 with pip and uv).
pub fn needs_git(input: &PlanInput) -> bool {
    why_git(input).is_some()
}

/// Why the build installs git ([`needs_git`]), for the build log; `None` when it does not.
pub fn why_git(input: &PlanInput) -> Option<String> {
    let c = input.config;
    if input.stage == crate::plan::Stage::Runtime {
        return None;
    }
    if c.builds_requirements() || c.kind == crate::config::BuildKind::Requirements {
        return Some("git+ constraints and source trees".into());
    }
    if let Some(p) = c.pip_packages.iter().find(|p| p.contains("git+")) {
        return Some(format!("pip clones {p}"));
    }
    if c.kind == crate::config::BuildKind::Infra {
        return None;
    }
    source_trees(input)
        .iter()
        .find_map(|t| git_reason(t).map(|why| format!("{}: {why}", t.display())))
}

/// The source trees a service build pip-installs, as planned: the project (cloned by the
/// `source` step unless it is there), EXTRA_PROJECTS, and skyline's console from git.
pub fn source_trees(input: &PlanInput) -> Vec<PathBuf> {
    let mut trees = super::source_tree::source_trees(input);
    trees.extend(super::project_specific::skyline::git_console_tree(input));
    trees
}

/// Why building the source tree at `tree` needs git, or `None` when it builds the same
/// without: a tree that is not there yet (the `source` step clones it, `.git` and all), a
/// tree in a git work tree (`.git` in it or above it: pbr lists its files with git), or one
/// without PKG-INFO (pbr asks git for the version).
pub fn git_reason(tree: &Path) -> Option<&'static str> {
    if !tree.is_dir() {
        return Some("cloned by the build");
    }
    if tree.ancestors().any(|d| d.join(".git").exists()) {
        return Some("a git work tree: pbr lists its files with git ls-files");
    }
    if !tree.join("PKG-INFO").is_file() {
        return Some("no PKG-INFO: pbr asks git for the version");
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a keystone build with its source tree at `sources/keystone` installs git.
    fn keystone_needs_git(sources: &Path) -> bool {
        let env = crate::config::Env::from([
            ("PROJECT".to_string(), "keystone".to_string()),
            ("WHEELS".to_string(), "/tmp/wheels".to_string()),
            ("SOURCES_DIR".to_string(), sources.display().to_string()),
        ]);
        let os = crate::os_release::OsRelease::parse(
            "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        );
        let distro = crate::distro::Distro::detect(&os, None, None).unwrap();
        let config = crate::config::Config::from_env(&env).unwrap();
        let input = PlanInput {
            config: &config,
            host: crate::host::Host::detect(),
            stage: crate::plan::Stage::Project,
            distro: &distro,
            bindep_files: vec![],
            pydep_files: vec![],
        };
        let planned = plan(&input)
            .unwrap()
            .unwrap()
            .packages
            .contains(&"git".into());
        assert_eq!(planned, needs_git(&input));
        planned
    }

    #[test]
    fn only_an_sdist_tree_outside_git_builds_without_git() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("keystone");
        // Not there yet: the source step clones it, .git and all.
        assert!(keystone_needs_git(dir.path()));
        assert_eq!(git_reason(&tree), Some("cloned by the build"));
        // A tree without PKG-INFO: pbr asks git for the version.
        std::fs::create_dir(&tree).unwrap();
        std::fs::write(tree.join("setup.cfg"), "[metadata]\nname = keystone\n").unwrap();
        assert!(keystone_needs_git(dir.path()));
        // An sdist: PKG-INFO and SOURCES.txt, no .git.
        std::fs::write(tree.join("PKG-INFO"), "Name: keystone\nVersion: 29.1.0\n").unwrap();
        assert!(!keystone_needs_git(dir.path()));
        assert_eq!(git_reason(&tree), None);
        // The same sdist committed to git (as tools/build-keystone.sh and the gate seed it):
        // pbr lists its files with git, and without git installs the top-level modules only.
        std::fs::create_dir(tree.join(".git")).unwrap();
        assert!(keystone_needs_git(dir.path()));
        std::fs::remove_dir(tree.join(".git")).unwrap();
        // A git work tree above it counts too (pbr asks `git rev-parse --git-dir`), and so
        // does a .git file (a worktree's).
        std::fs::write(dir.path().join(".git"), "gitdir: /elsewhere\n").unwrap();
        assert!(keystone_needs_git(dir.path()));
        assert!(git_reason(&tree).unwrap().contains("git ls-files"));
    }
}
