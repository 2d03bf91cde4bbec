//! Step `install`: pip-install the project (with PROJECT_PIP_EXTRAS), the EXTRA_PROJECTS trees
//! and PIP_PACKAGES from the wheels, against the constraints.

use crate::config::Installer;
use crate::error::Result;
use crate::name_mapping;
use crate::plan::{Cmd, PlanInput, Step};

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
    let cdir = super::wheels::constraints_dir(input);
    let from_index = super::wheels::from_index(input);
    let mut constraints = vec![
        "-c".to_string(),
        cdir.join("global-requirements.txt").display().to_string(),
        "-c".into(),
        cdir.join("upper-constraints.txt").display().to_string(),
    ];
    if let Some(wheels) = super::wheels::wheels_dir(input) {
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
        Installer::Pip => Cmd::new(super::venv_bin(input, "pip"), ["install"])
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

/// `uv pip install` into the venv's python with the build's uv ([`super::venv::build_uv`]):
/// with the package cache's `uv` directory (files copied out of it: it is another file
/// system), else `--no-cache`.
pub fn uv_pip_install(input: &PlanInput) -> Cmd {
    let cmd = Cmd::new(
        super::venv::build_uv(input),
        [
            "pip".to_string(),
            "install".into(),
            "--python".into(),
            super::venv_bin(input, "python"),
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
/// EXTRA_PROJECTS), by directory name through python-custom-name-mapping.txt.
fn local_tree_names(input: &PlanInput) -> Result<Vec<String>> {
    let c = input.config;
    let mapping = name_mapping::load(&c.paths.loci_dir)?;
    Ok(std::iter::once(&c.project)
        .chain(c.extra_projects.iter())
        .map(|dir| crate::constraints::normalize(&name_mapping::pypi_for_dir(&mapping, dir)))
        .collect())
}

/// The project's source tree as a pip requirement, with extras.
pub fn project_requirement(input: &PlanInput) -> String {
    let c = input.config;
    let dir = c.paths.sources_dir.join(&c.project).display().to_string();
    match &c.project_pip_extras {
        Some(extras) => format!("{dir}[{extras}]"),
        None => dir,
    }
}

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let mut cmd = pip_install(input, c.keep_all_wheels)?.arg(project_requirement(input));
    for p in &c.extra_projects {
        cmd = cmd.arg(c.paths.data_dir.join(p).display().to_string());
    }
    cmd = cmd.args(c.pip_packages.iter().cloned());
    let mut step = Step::new("install", format!("pip install {}", c.project));
    // A plugin has no venv step, which provides the build's uv elsewhere.
    if c.plugin && c.installer == Installer::Uv {
        step = step.action(super::venv::provide_uv_action(input));
    }
    Ok(Some(step.run(cmd)))
}

/// LOCI's infra image: bindep and PIP_PACKAGES in the venv, no project.
pub fn plan_infra(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let cmd = pip_install(input, c.keep_all_wheels)?
        .arg("bindep")
        .args(c.pip_packages.iter().cloned());
    Ok(Some(
        Step::new("install", "pip install bindep and PIP_PACKAGES").run(cmd),
    ))
}

/// `pip install` for child images (`loci pip-install`): the constraints recorded in
/// /etc/image_info when the image was built, and the wheels dir when one is present.
pub fn pip_install_in_image(c: &crate::config::Config) -> Cmd {
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
