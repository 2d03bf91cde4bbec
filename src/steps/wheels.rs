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

use std::fmt;
use std::path::Path;

use super::python::{build_constraints, constraints_dir, wheels_dir};
use crate::config::{RegistryConfig, WheelsSource};
use crate::constraints;
use crate::error::{Context, Error, Result};
use crate::plan::{PlanInput, Step, WheelsAction};
use crate::runner;

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
        return Ok(Some(step.action(WheelsAction::FetchConstraints {
            source: constraints,
            dir: constraints_dir(input),
            project: c.project.clone(),
            setuptools: c.setuptools_constraint.clone(),
        })));
    }
    let wheels = wheels_dir(input).expect("wheels other than the index have a directory");
    step = step.action(WheelsAction::FetchWheels {
        source,
        dest: c.paths.wheels_dir.clone(),
    });
    Ok(Some(step.action(WheelsAction::PrepareConstraints {
        wheels,
        dir: constraints_dir(input),
        project: c.project.clone(),
    })))
}

impl fmt::Display for WheelsAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WheelsAction::FetchWheels { source, dest } => match source {
                WheelsSource::Directory(d) => write!(f, "use wheels in place: {}", d.display()),
                WheelsSource::Tarball(p) => {
                    write!(f, "extract tarball {} -> {}", p.display(), dest.display())
                }
                WheelsSource::Url(u) => write!(f, "download and extract {u} -> {}", dest.display()),
                WheelsSource::Image(i) => {
                    write!(f, "pull last layer of image {i} -> {}", dest.display())
                }
                WheelsSource::Mounted { image, path } => write!(
                    f,
                    "use image {image} in place, mounted by BuildKit at {}",
                    path.display()
                ),
                WheelsSource::Index { constraints } => {
                    write!(f, "no wheels; constraints from {constraints}")
                }
            },
            WheelsAction::FetchConstraints {
                source,
                dir,
                project,
                setuptools,
            } => write!(
                f,
                "fetch {source} -> {}/upper-constraints.txt without the pin of {project}; build constraints with setuptools{}",
                dir.display(),
                if setuptools.is_empty() { " unpinned" } else { setuptools }
            ),
            WheelsAction::PrepareConstraints {
                wheels,
                dir,
                project,
            } => write!(
                f,
                "copy upper-constraints.txt and global-requirements.txt from {} to {} without the pin of {project}",
                wheels.display(),
                dir.display()
            ),
        }
    }
}

/// Runs one action of this module.
pub fn run(action: &WheelsAction, ctx: &mut runner::Context) -> Result<()> {
    let config = ctx.config;
    match action {
        WheelsAction::FetchWheels { source, dest } => {
            fetch(source, dest, &config.registry, &config.tls)
        }
        WheelsAction::PrepareConstraints {
            wheels,
            dir,
            project,
        } => prepare_constraints(wheels, dir, project),
        WheelsAction::FetchConstraints {
            source,
            dir,
            project,
            setuptools,
        } => fetch_constraints(source, dir, project, setuptools, &config.tls),
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
        WheelsSource::Image(i) => crate::registry::pull::fetch_wheels(i, dest, registry, tls),
    }
}

/// Writes the adjusted constraint files (see [`crate::plan::WheelsAction::PrepareConstraints`]).
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
