//! Step `base`: refresh the package index once and install what every image needs.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::plan::{BaseAction, PlanInput, Step};
use crate::runner::Context;

/// Plans the base packages (only the missing ones are installed, see
/// [`crate::steps::packages::install`]): python3 with venv, and the run-time basics
/// (ca-certificates, netbase, sudo, lsb-release, libpython3.X); git too when the build needs
/// it ([`needs_git`]; purged again at cleanup), unless it comes with the project's packages
/// ([`git_with_packages`], [`add_git_to_packages`]) or, in a requirements build, with the
/// build packages the `requirements` step installs only when it builds something
/// ([`git_with_build_packages`]). Skipped for plugins, which build on top of an image that
/// already has them (git, when a plugin needs it, comes in its `packages` step).
pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    if input.config.plugin {
        return Ok(None);
    }
    let d = input.distro;
    // The runtime stage gets the venv built: it needs neither git nor patch.
    let why_git = match why_git(input) {
        Some(_) if git_with_packages(input)? || git_with_build_packages(input) => None,
        why => why,
    };
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

/// Whether git (when the build needs it) comes in the `packages` step's transaction, with the
/// project's packages, instead of in `base`: in a service or infra build that has a `packages`
/// step (bindep or DIST_PACKAGES name packages for it), not in a requirements build
/// ([`git_with_build_packages`]). Nothing runs git before the `install` step (the sources are cloned
/// with libgit2; pbr and pip's `git+` are its users), and one `apt-get install` of everything
/// costs less than two: one resolution, one unpack and trigger run.
pub fn git_with_packages(input: &PlanInput) -> Result<bool> {
    let c = input.config;
    Ok(c.kind != crate::config::BuildKind::Requirements
        && (c.plugin || !super::packages::project_packages(input)?.is_empty()))
}

/// Whether git (a requirements build always may need it: [`why_git`]) comes with the build
/// packages the `requirements` step installs before its first source or wheel build, and
/// not at all when the index and the wheel cache leave nothing to build: git's users there
/// are pip's clones of `git+` constraints and pbr in the source trees, both such builds.
/// Nothing else in a requirements build runs git (the sources are cloned with libgit2);
/// a rebuild that builds nothing saves git's install (2.7-3.8 s of `base` on 2 cores).
pub fn git_with_build_packages(input: &PlanInput) -> bool {
    input.config.builds_requirements() && why_git(input).is_some()
}

/// Pass: adds git, when the build needs it ([`why_git`]) and [`git_with_packages`], to the
/// `packages` step's install (its summary says why); [`plan`] left it out of `base`.
#[allow(clippy::ptr_arg)] // the shape of every [`super::Pass`]
pub fn add_git_to_packages(input: &PlanInput, steps: &mut Vec<Step>) -> Result<()> {
    let Some(why) = why_git(input) else {
        return Ok(());
    };
    if !git_with_packages(input)? {
        return Ok(());
    }
    let d = input.distro;
    if input.config.plugin && !steps.iter().any(|s| s.name == "packages") {
        // A plugin has no base step, and bindep names no package for it: git in a packages
        // step of its own, before anything that could run it.
        let at = steps
            .iter()
            .position(|s| matches!(s.name, "pydep" | "source" | "install"))
            .unwrap_or(steps.len());
        steps.insert(
            at,
            Step::new("packages", "system packages from bindep and DIST_PACKAGES"),
        );
    }
    let step = steps
        .iter_mut()
        .find(|s| s.name == "packages")
        .ok_or_else(|| {
            crate::Error::new("loci planned git for the packages step, and there is none")
                .hint("this is a bug in loci: report it with `loci plan`'s output")
        })?;
    d.add_build_tools(&mut step.packages);
    let install = super::packages::install_action(d, &step.packages);
    match step.actions.iter_mut().find(|a| {
        matches!(
            a,
            crate::plan::Action::Packages(crate::plan::PackagesAction::Install { .. })
        )
    }) {
        Some(a) => *a = install,
        None => step.actions.insert(0, install),
    }
    step.summary
        .push_str(&format!("; git for pbr and pip ({why})"));
    Ok(())
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

    /// Runs `f` with the plan input of `env` on bookworm, with `bindep` as its bindep.txt
    /// (none when empty).
    fn with_input<R>(env: &crate::config::Env, bindep: &str, f: impl FnOnce(&PlanInput) -> R) -> R {
        let os = crate::os_release::OsRelease::parse(
            "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        );
        let distro = crate::distro::Distro::detect(&os, None, None).unwrap();
        let config = crate::config::Config::from_env(env).unwrap();
        let bindep_files = match bindep {
            "" => vec![],
            text => vec![("bindep.txt".to_string(), text.to_string())],
        };
        f(&PlanInput {
            config: &config,
            host: crate::host::Host::detect(),
            stage: crate::plan::Stage::Project,
            distro: &distro,
            bindep_files,
            pydep_files: vec![],
        })
    }

    /// Whether a keystone build with its source tree at `sources/keystone` installs git.
    fn keystone_needs_git(sources: &Path) -> bool {
        let env = crate::config::Env::from([
            ("PROJECT".to_string(), "keystone".to_string()),
            ("WHEELS".to_string(), "/tmp/wheels".to_string()),
            ("SOURCES_DIR".to_string(), sources.display().to_string()),
        ]);
        // With no project packages (no bindep file here) git stays in `base`.
        with_input(&env, "", |input| {
            let planned = plan(input)
                .unwrap()
                .unwrap()
                .packages
                .contains(&"git".into());
            assert_eq!(planned, needs_git(input));
            planned
        })
    }

    /// The steps of a build on bookworm with `extra` settings (PROJECT=keystone unless they
    /// say otherwise) and a bindep.txt that gives keystone libxml2.
    fn steps_of(extra: &[(&str, &str)]) -> Vec<Step> {
        let mut env: crate::config::Env = [("WHEELS", "/tmp/wheels")]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.entry("PROJECT".into()).or_insert("keystone".into());
        with_input(&env, "libxml2 [platform:dpkg keystone]\n", |input| {
            crate::steps::plan_all(input).unwrap()
        })
    }

    fn installs(steps: &[Step], name: &str) -> Vec<String> {
        steps
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.packages.clone())
            .unwrap_or_default()
    }

    /// One package transaction for git and the project's packages: git leaves `base` for
    /// `packages` (the first step that runs git is `install`), keeps its preflight origin,
    /// and is purged as before; the requirements build defers it with its build packages.
    #[test]
    fn git_comes_with_the_projects_packages() {
        let steps = steps_of(&[("SOURCES_DIR", "/nonexistent")]);
        let base = installs(&steps, "base");
        let packages = installs(&steps, "packages");
        assert!(!base.contains(&"git".into()), "{base:?}");
        assert_eq!(packages, ["libxml2", "git"]);
        let step = steps.iter().find(|s| s.name == "packages").unwrap();
        assert!(
            step.summary
                .ends_with("; git for pbr and pip (/nonexistent/keystone: cloned by the build)"),
            "{}",
            step.summary
        );
        let Some(crate::plan::Action::Packages(crate::plan::PackagesAction::Install {
            install,
            ..
        })) = step.actions.first()
        else {
            panic!("{:?}", step.actions)
        };
        assert_eq!(install.args.last().map(String::as_str), Some("git"));
        // Checked before the first change, with the origin it had in `base`.
        let Some(crate::plan::Action::Preflight(crate::plan::PreflightAction::CheckPackages {
            packages: wanted,
            ..
        })) = steps
            .iter()
            .find(|s| s.name == "preflight")
            .and_then(|s| s.actions.first())
        else {
            panic!("no preflight: {steps:?}")
        };
        let git = wanted.iter().find(|w| w.name == "git").unwrap();
        assert_eq!(git.origin, "loci's base packages for debian-bookworm");
        let cleanup = steps.iter().find(|s| s.name == "cleanup").unwrap();
        assert!(
            matches!(&cleanup.actions[0], crate::plan::Action::Packages(crate::plan::PackagesAction::Purge { packages, .. }) if packages.contains(&"git".to_string())),
            "{:?}",
            cleanup.actions[0]
        );
        // Asked for in DIST_PACKAGES: installed once, from DIST_PACKAGES, and kept.
        let steps = steps_of(&[("SOURCES_DIR", "/nonexistent"), ("DIST_PACKAGES", "git")]);
        assert_eq!(installs(&steps, "packages"), ["libxml2", "git"]);
        // A plugin has no base step: git comes with its packages (a_plugin_... below).
        let steps = steps_of(&[("SOURCES_DIR", "/nonexistent"), ("PLUGIN", "yes")]);
        assert_eq!(installs(&steps, "packages"), ["libxml2", "git"]);
        // The requirements build: git with the build packages its requirements step installs
        // only when it builds something (none in `base`); its image keeps only the wheels.
        let steps = steps_of(&[("PROJECT", "requirements")]);
        assert!(!installs(&steps, "base").contains(&"git".into()));
        let packages = steps.iter().find(|s| s.name == "packages").unwrap();
        assert_eq!(packages.packages.last().map(String::as_str), Some("git"));
        assert!(
            matches!(&packages.actions[..], [crate::plan::Action::Requirements(
            crate::plan::RequirementsAction::BuildPackagesDeferred { packages }
        )] if packages.contains(&"git".to_string()))
        );
    }

    /// A plugin from a clone has no base step: pbr still needs git, so it comes in the
    /// plugin's packages step (one of its own when bindep names nothing for the plugin),
    /// before the source step, checked by preflight; the cleanup purges only what this build
    /// installed (the image a plugin builds on may keep git). From an sdist outside git: none.
    #[test]
    fn a_plugin_from_a_clone_gets_git_and_purges_only_its_own() {
        let env: crate::config::Env = [
            ("WHEELS", "/tmp/wheels"),
            ("PROJECT", "networking-baremetal"),
            ("PLUGIN", "yes"),
            ("SOURCES_DIR", "/nonexistent"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let steps = with_input(&env, "", |input| crate::steps::plan_all(input).unwrap());
        let names: Vec<&str> = steps.iter().map(|s| s.name).collect();
        assert!(!names.contains(&"base"), "{names:?}");
        let at = |n: &str| names.iter().position(|s| *s == n).unwrap();
        assert!(
            at("preflight") < at("packages") && at("packages") < at("source"),
            "{names:?}"
        );
        assert_eq!(installs(&steps, "packages"), ["git"]);
        let Some(crate::plan::Action::Preflight(crate::plan::PreflightAction::CheckPackages {
            packages: wanted,
            ..
        })) = steps[at("preflight")].actions.first()
        else {
            panic!("no preflight: {steps:?}")
        };
        assert_eq!(
            wanted.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
            ["git"]
        );
        let cleanup = &steps[at("cleanup")];
        assert!(
            matches!(&cleanup.actions[0], crate::plan::Action::Packages(crate::plan::PackagesAction::PurgeInstalledHere { packages, .. }) if packages.contains(&"git".to_string())),
            "{:?}",
            cleanup.actions[0]
        );
        // The plugin's sdist, outside git: pbr reads PKG-INFO, no git, no packages step.
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("networking-baremetal");
        std::fs::create_dir(&tree).unwrap();
        std::fs::write(
            tree.join("PKG-INFO"),
            "Name: networking-baremetal\nVersion: 7.0.0\n",
        )
        .unwrap();
        let mut env = env;
        env.insert("SOURCES_DIR".into(), dir.path().display().to_string());
        let steps = with_input(&env, "", |input| crate::steps::plan_all(input).unwrap());
        assert!(steps.iter().all(|s| s.name != "packages"), "{steps:?}");
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
