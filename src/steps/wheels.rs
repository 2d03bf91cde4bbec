//! Step `wheels`: make the wheels and upper-constraints.txt available at the wheels dir.
//!
//! WHEELS can be an image BuildKit mounted at WHEELS_PATH (used in place), a directory (used in
//! place: a bind mount or pre-seeded data dir), a local tarball, an http(s) URL of a tarball, or
//! an image reference whose last layer holds the wheels (loci's registry client, when nothing
//! is mounted). Archives are streamed straight into the wheels dir; dot-files are skipped as in
//! LOCI. An empty WHEELS means no wheels at all: only the constraints are fetched
//! (UPPER_CONSTRAINTS), and packages come from the index.
//!
//! The step runs first in a build, so that wheels that are missing or are not a requirements
//! image stop the build before any package is installed.

use std::path::{Path, PathBuf};

use crate::config::{RegistryConfig, WheelsSource};
use crate::constraints;
use crate::error::{Context, Error, Result};
use crate::plan::{Action, PlanInput, Step};

use serde::Serialize;

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

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let source = c
        .wheels
        .clone()
        .unwrap_or_else(|| WheelsSource::Directory(c.paths.wheels_dir.clone()));
    let summary = match &source {
        WheelsSource::Directory(d) => format!("wheels in place at {}", d.display()),
        WheelsSource::Tarball(p) => format!("wheels from {}", p.display()),
        WheelsSource::Url(u) => format!("wheels from {u}"),
        WheelsSource::Image(i) => format!("wheels from image {i}"),
        WheelsSource::Mounted { image, path } => {
            format!(
                "wheels of image {image}, mounted by BuildKit at {}",
                path.display()
            )
        }
        WheelsSource::Index { constraints } => {
            format!("no wheels: packages from the index, constrained by {constraints}")
        }
    };
    let mut step = Step::new("wheels", summary);
    if let WheelsSource::Index { constraints } = source {
        return Ok(Some(step.action(Action::FetchConstraints {
            source: constraints,
            dir: constraints_dir(input),
            project: c.project.clone(),
            setuptools: c.setuptools_constraint.clone(),
        })));
    }
    let wheels = wheels_dir(input).expect("wheels other than the index have a directory");
    step = step.action(Action::FetchWheels {
        source,
        dest: c.paths.wheels_dir.clone(),
    });
    Ok(Some(step.action(Action::PrepareConstraints {
        wheels,
        dir: constraints_dir(input),
        project: c.project.clone(),
    })))
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
    pub fn detect(pip: &str, runner: &mut dyn crate::runner::Runner) -> Result<Self> {
        Self::of_pip(&runner.output(&crate::plan::Cmd::new(pip, ["--version"]))?)
    }

    /// Adds the build constraints in `file` to a pip command, as this mode passes them.
    pub fn apply(self, cmd: crate::plan::Cmd, file: &Path) -> crate::plan::Cmd {
        let file = file.display().to_string();
        match self {
            BuildConstraintMode::Option => cmd.args(["--build-constraint".to_string(), file]),
            BuildConstraintMode::Environment => cmd.env("PIP_CONSTRAINT", file),
        }
    }
}

/// Fetches the upper-constraints of an index build (an http(s) URL or a file), and writes
/// `dir/upper-constraints.txt` without the project's own pin, an empty
/// `dir/global-requirements.txt` and `dir/build-constraints.txt`.
pub fn fetch_constraints(
    source: &str,
    dir: &Path,
    project: &str,
    setuptools: &str,
    tls: &crate::config::TlsConfig,
) -> Result<()> {
    let what = format!("UPPER_CONSTRAINTS={source}");
    let text = if source.starts_with('/') {
        std::fs::read_to_string(source).map_err(|e| {
            Error::new(format!("{what}: cannot read the file"))
                .caused_by(e)
                .hint("put upper-constraints.txt into the data dir (data/, seen as /tmp) or give an http(s) URL")
        })?
    } else {
        let url = reqwest::Url::parse(source).map_err(|e| {
            Error::new(format!("{what}: not a valid URL"))
                .caused_by(e)
                .hint("use e.g. https://releases.openstack.org/constraints/upper/2026.1")
        })?;
        let client = crate::http::client(tls, crate::http::Options::default())?;
        let resp = crate::http::send(&what, || client.get(url.clone()))?;
        if !resp.status().is_success() {
            return Err(crate::http::status_error(&what, resp)
                .hint("check the URL, or set WHEELS to a requirements image instead"));
        }
        resp.text()
            .map_err(|e| Error::new(format!("{what}: the answer is not text")).caused_by(e))?
    };
    if !text.lines().any(|l| l.contains("===") || l.contains("==")) {
        let start: String = text.chars().take(80).collect();
        return Err(
            Error::new(format!("{what}: this is not an upper-constraints file"))
                .cause(format!("it starts with {start:?}"))
                .hint("upper-constraints.txt lists one `name===version` a line"),
        );
    }
    std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    let upper = constraints::drop_project(&text, project);
    for (name, body) in [
        ("upper-constraints.txt", upper.clone()),
        ("global-requirements.txt", String::new()),
        (
            "build-constraints.txt",
            build_constraints(&upper, setuptools),
        ),
    ] {
        let out = dir.join(name);
        std::fs::write(&out, body).context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

/// Fetches `source` into `dest`. On failure nothing is left behind: a partly written `dest`
/// is removed.
pub fn fetch(
    source: &WheelsSource,
    dest: &Path,
    registry: &RegistryConfig,
    tls: &crate::config::TlsConfig,
) -> Result<()> {
    match source {
        WheelsSource::Directory(d) => {
            if !d.is_dir() {
                return Err(Error::new(format!("WHEELS={} is not a directory", d.display()))
                    .hint("set WHEELS to a requirements image, a tarball path or URL, or bind-mount the wheels there"));
            }
            if !d.join(crate::extract::CONSTRAINTS).is_file() {
                return Err(Error::new(format!(
                    "WHEELS={}: the directory holds no {}",
                    d.display(),
                    crate::extract::CONSTRAINTS
                ))
                .hint("WHEELS must hold the wheels and upper-constraints.txt built by loci with PROJECT=requirements (or LOCI's requirements image)"));
            }
            Ok(())
        }
        WheelsSource::Mounted { image, path } => {
            if !path.join("upper-constraints.txt").is_file() {
                return Err(Error::new(format!(
                    "WHEELS={image} is not a requirements image: {} (where BuildKit mounted it) has no upper-constraints.txt",
                    path.display()
                ))
                .hint("build WHEELS with `--target requirements` (PROJECT=requirements), or use LOCI's requirements image"));
            }
            Ok(())
        }
        WheelsSource::Index { .. } => Ok(()),
        WheelsSource::Tarball(p) => crate::extract::from_file(p, dest),
        WheelsSource::Url(u) => crate::extract::from_url(u, dest, tls),
        WheelsSource::Image(i) => crate::registry::fetch_wheels(i, dest, registry, tls),
    }
}

/// Writes the adjusted constraint files (see [`Action::PrepareConstraints`]).
pub fn prepare_constraints(wheels: &Path, dir: &Path, project: &str) -> Result<()> {
    let upper = wheels.join("upper-constraints.txt");
    let text = std::fs::read_to_string(&upper).map_err(|e| {
        Error::new(format!("the wheels at {} have no upper-constraints.txt", wheels.display()))
            .caused_by(e)
            .hint("WHEELS must point at wheels built by loci with PROJECT=requirements (or LOCI's requirements image); they carry upper-constraints.txt and global-requirements.txt")
    })?;
    std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    let out = dir.join("upper-constraints.txt");
    std::fs::write(&out, constraints::drop_project(&text, project))
        .context(|| format!("cannot write {}", out.display()))?;
    let global = wheels.join("global-requirements.txt");
    let global_text = match std::fs::read_to_string(&global) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::new(format!("cannot read {}", global.display())).caused_by(e)),
    };
    let out = dir.join("global-requirements.txt");
    std::fs::write(&out, global_text).context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_constraints_drops_the_project_and_tolerates_missing_global() {
        let w = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        std::fs::write(
            w.path().join("upper-constraints.txt"),
            "Keystone===29.0.0\nkeystoneauth1===5.9.0\n",
        )
        .unwrap();
        prepare_constraints(w.path(), out.path(), "keystone").unwrap();
        assert_eq!(
            std::fs::read_to_string(out.path().join("upper-constraints.txt")).unwrap(),
            "keystoneauth1===5.9.0\n"
        );
        assert_eq!(
            std::fs::read_to_string(out.path().join("global-requirements.txt")).unwrap(),
            ""
        );
    }

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
        let cmd = crate::plan::Cmd::new("pip", ["wheel"]);
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

    #[test]
    fn constraints_of_an_index_build_come_from_a_file() {
        let d = tempfile::tempdir().unwrap();
        let upper = d.path().join("u.txt");
        std::fs::write(&upper, "keystone===29.1.0\npbr===7.0.3\n").unwrap();
        let out = d.path().join("out");
        let tls = crate::config::TlsConfig::default();
        fetch_constraints(upper.to_str().unwrap(), &out, "keystone", "<81", &tls).unwrap();
        let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap();
        assert_eq!(read("upper-constraints.txt"), "pbr===7.0.3\n");
        assert_eq!(read("global-requirements.txt"), "");
        assert_eq!(
            read("build-constraints.txt"),
            "pbr===7.0.3\nsetuptools<81\n"
        );
        std::fs::write(&upper, "<html>not found</html>").unwrap();
        let e = fetch_constraints(upper.to_str().unwrap(), &out, "keystone", "", &tls)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("UPPER_CONSTRAINTS=") && e.contains("not an upper-constraints file"),
            "{e}"
        );
    }

    #[test]
    fn a_mounted_image_without_constraints_names_wheels() {
        let d = tempfile::tempdir().unwrap();
        let e = fetch(
            &WheelsSource::Mounted {
                image: "loci/base:debian".into(),
                path: d.path().into(),
            },
            Path::new("/nonexistent"),
            &crate::config::RegistryConfig {
                protocol: crate::config::RegistryProtocol::Detect,
                insecure: false,
                auth_file: None,
            },
            &crate::config::TlsConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("WHEELS=loci/base:debian is not a requirements image"),
            "{e}"
        );
    }

    #[test]
    fn wheels_without_upper_constraints_is_a_clear_error() {
        let w = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let e = prepare_constraints(w.path(), out.path(), "keystone")
            .unwrap_err()
            .to_string();
        assert!(e.contains("have no upper-constraints.txt"), "{e}");
        assert!(e.contains("PROJECT=requirements"), "{e}");
    }
}
