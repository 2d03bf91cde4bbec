//! Step `wheels`: make the wheels and upper-constraints.txt available at the wheels dir.
//!
//! WHEELS can be a directory (used in place: a bind mount or pre-seeded data dir), a local
//! tarball, an http(s) URL of a tarball, or an image reference whose last layer holds the
//! wheels. Archives are streamed straight into the wheels dir; dot-files are skipped as in LOCI.

use std::path::{Path, PathBuf};

use crate::config::{RegistryConfig, WheelsSource};
use crate::constraints;
use crate::error::{Context, Error, Result};
use crate::plan::{Action, PlanInput, Step};

/// The directory pip reads wheels from: WHEELS itself when it is a directory, else the wheels
/// dir the archive is extracted into.
pub fn wheels_dir(input: &PlanInput) -> PathBuf {
    match &input.config.wheels {
        Some(WheelsSource::Directory(d)) => d.clone(),
        _ => input.config.paths.wheels_dir.clone(),
    }
}

/// Where the adjusted constraint files are written (the data dir, as LOCI does).
pub fn constraints_dir(input: &PlanInput) -> PathBuf {
    input.config.paths.sources_dir.clone()
}

pub fn plan(input: &PlanInput) -> Option<Step> {
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
    };
    Some(
        Step::new("wheels", summary)
            .action(Action::FetchWheels {
                source,
                dest: c.paths.wheels_dir.clone(),
            })
            .action(Action::PrepareConstraints {
                wheels: wheels_dir(input),
                dir: constraints_dir(input),
                project: c.project.clone(),
            }),
    )
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
            .cause(e)
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
        Err(e) => return Err(Error::new(format!("cannot read {}", global.display())).cause(e)),
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
