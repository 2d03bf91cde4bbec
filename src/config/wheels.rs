//! WHEELS and UPPER_CONSTRAINTS: where the wheels and the constraints come from
//! ([`WheelsSource`]), classified and checked before anything changes.

use std::path::PathBuf;

use serde::Serialize;

use super::args;
use super::paths::Paths;
use super::values::{Resolver, Source};
use crate::error::{Error, Result};

/// Where the wheels (and upper-constraints.txt) come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "location", rename_all = "snake_case")]
pub enum WheelsSource {
    /// A directory already holding the wheels (a bind mount, or a pre-seeded data dir); used in place.
    Directory(PathBuf),
    /// A local `.tar`, `.tar.gz` or `.tgz` file, extracted into the wheels dir.
    Tarball(PathBuf),
    /// An http(s) URL of a tarball, streamed into the wheels dir.
    Url(String),
    /// An image reference in a registry; its last layer holds the wheels.
    Image(String),
    /// An image that BuildKit mounted at WHEELS_PATH (`FROM ${WHEELS} AS wheels` and
    /// `RUN --mount=type=bind,from=wheels`): used in place, nothing is downloaded.
    Mounted { image: String, path: PathBuf },
    /// No requirements image (WHEELS empty): packages come from the index, compiled where
    /// PyPI has no wheel, against the upper-constraints at this URL or path (UPPER_CONSTRAINTS).
    Index { constraints: String },
}

impl WheelsSource {
    /// The WHEELS build argument that names this source again (empty for the index).
    pub fn as_build_arg(&self) -> String {
        match self {
            WheelsSource::Directory(p) | WheelsSource::Tarball(p) => p.display().to_string(),
            WheelsSource::Url(s) | WheelsSource::Image(s) => s.clone(),
            WheelsSource::Mounted { image, .. } => image.clone(),
            WheelsSource::Index { .. } => String::new(),
        }
    }
}

/// What WHEELS may be, for hints.
pub const WHEELS_FORMS: &str = "WHEELS takes an image reference (e.g. openstackhelm/requirements:2024.1-ubuntu_jammy, optionally @sha256:<64 hex digits>), an http(s) URL of a tarball, or an absolute path of a tarball (.tar, .tar.gz, .tar.zst) or of a directory of wheels";

/// Classifies WHEELS (see [`classify_wheels`]) and refuses what no fetch could use: URLs of
/// other schemes (`ftp://`, `file://`) and malformed image references (`image@sha256:xyz`), so
/// that `loci plan` and `loci build` refuse them alike, before anything changes.
pub fn parse_wheels(value: &str) -> Result<WheelsSource> {
    let shown = crate::error::cut(value, crate::error::QUOTE_MAX);
    if let Some((scheme, rest)) = value.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            let hint = if scheme == "file" {
                format!(
                    "for a local file, give its path itself: WHEELS={}. {WHEELS_FORMS}",
                    if rest.starts_with('/') {
                        rest.to_string()
                    } else {
                        format!("/{rest}")
                    }
                )
            } else {
                WHEELS_FORMS.to_string()
            };
            return Err(Error::new(format!(
                "WHEELS={shown} is refused: {scheme}:// URLs are not supported, only http:// and https://"
            ))
            .hint(hint));
        }
    }
    let source = classify_wheels(value);
    match &source {
        WheelsSource::Image(i) => {
            crate::registry::Reference::parse(i).map_err(|e| {
                let forms = e.hint.clone().unwrap_or_default();
                e.hint(format!("{WHEELS_FORMS}. Image references: {forms}"))
            })?;
        }
        WheelsSource::Url(u) => {
            let url = reqwest::Url::parse(u).map_err(|e| {
                Error::new(format!("WHEELS={shown} is not a valid URL"))
                    .caused_by(e)
                    .hint("use http(s)://host/path/wheels.tar.gz")
            })?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(Error::new(format!(
                    "WHEELS={shown} is not a valid URL: it names no host"
                ))
                .hint("use http(s)://host/path/wheels.tar.gz"));
            }
        }
        WheelsSource::Tarball(_)
        | WheelsSource::Directory(_)
        | WheelsSource::Mounted { .. }
        | WheelsSource::Index { .. } => {}
    }
    Ok(source)
}

/// OpenStack's published upper-constraints of a release (`master`, `2026.1`, ...).
pub fn published_constraints(release: &str) -> String {
    format!("https://releases.openstack.org/constraints/upper/{release}")
}

/// Where the wheels come from, from WHEELS, UPPER_CONSTRAINTS and what is mounted:
/// - an image reference that BuildKit mounted at WHEELS_PATH is used in place;
/// - an empty WHEELS with UPPER_CONSTRAINTS, or with no wheels pre-seeded in the data dir, means
///   no requirements image: the index, against UPPER_CONSTRAINTS (default: OpenStack's published
///   file for PROJECT_RELEASE);
/// - an empty WHEELS with a pre-seeded data dir (`/tmp/wheels`) keeps loci's old default, the
///   data dir (`None`).
pub(crate) fn resolve_wheels(
    r: &mut Resolver,
    release: &str,
    paths: &Paths,
) -> Result<Option<WheelsSource>> {
    let upper_source = r.source(&args::UPPER_CONSTRAINTS);
    let upper_constraints = r.text(&args::UPPER_CONSTRAINTS);
    let upper_constraints = upper_constraints.as_deref();
    let wheels = r.text(&args::WHEELS);
    let wheels = wheels.as_deref();
    if let Some(u) = upper_constraints {
        let lower = u.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://") || u.starts_with('/')) {
            return Err(Error::new(format!(
                "UPPER_CONSTRAINTS={u} is neither an http(s) URL nor an absolute path"
            ))
            .hint("give the URL of an upper-constraints.txt or its path in the data dir, e.g. /tmp/upper-constraints.txt"));
        }
    }
    let source = match wheels {
        Some(w) => Some(match parse_wheels(w)? {
            WheelsSource::Image(image) if paths.wheels_mount.is_dir() => WheelsSource::Mounted {
                image,
                path: paths.wheels_mount.clone(),
            },
            other => other,
        }),
        None if upper_constraints.is_none() && paths.wheels_dir.is_dir() => None,
        None => Some(WheelsSource::Index {
            constraints: upper_constraints
                .map(String::from)
                .unwrap_or_else(|| published_constraints(release)),
        }),
    };
    // UPPER_CONSTRAINTS is in effect in a build without wheels only.
    match &source {
        Some(WheelsSource::Index { constraints }) => r.set(
            &args::UPPER_CONSTRAINTS,
            Some(constraints.clone()),
            upper_source,
        ),
        _ => {
            let source = match upper_source {
                Source::Given(name) => Source::Ignored(name),
                _ => Source::Unset,
            };
            r.set(&args::UPPER_CONSTRAINTS, None, source)
        }
    }
    Ok(source)
}

/// Decides what kind of WHEELS value this is, as LOCI does: URLs by scheme, local files and
/// directories by a leading `/` or `.`, and everything else is an image reference.
pub fn classify_wheels(value: &str) -> WheelsSource {
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return WheelsSource::Url(value.to_string());
    }
    if value.starts_with('/') || value.starts_with('.') {
        let path = PathBuf::from(value);
        if path.is_dir() {
            return WheelsSource::Directory(path);
        }
        return WheelsSource::Tarball(path);
    }
    WheelsSource::Image(value.to_string())
}
