//! The checks of values that become file names, user names, paths or command arguments,
//! and of LOCI_VERSION against this binary.

use std::path::PathBuf;

use super::values::shown;
use crate::error::{Error, Result};

/// What a configured value becomes, deciding what it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Becomes {
    /// One path component (a directory in /tmp, a file in /opt/loci): at most 255 bytes.
    FileName,
    /// A user and group name for useradd/groupadd (and a file name): at most 32 characters.
    UserName,
}

/// The longest file name Linux file systems take.
pub(crate) const FILE_NAME_MAX: usize = 255;

/// The longest user or group name useradd and groupadd take.
pub(crate) const USER_NAME_MAX: usize = 32;

/// Checks that `value` of `key` can become what `becomes` says: letters, digits, `-`, `_` and
/// `.` only (so no `/`, no space, no control character), not `.` or `..`, not starting with
/// `-` (a command would read it as an option), and within the length limit. The caller adds a
/// hint.
pub(crate) fn check_name(key: &str, value: &str, becomes: Becomes) -> Result<()> {
    check_named(&format!("{key}="), value, becomes)
}

/// [`check_name`] for one entry of the list `key`.
pub(crate) fn check_entry(key: &str, value: &str, becomes: Becomes) -> Result<()> {
    check_named(&format!("{key} entry "), value, becomes)
}

/// [`check_name`], the value shown after `label`.
pub(crate) fn check_named(label: &str, value: &str, becomes: Becomes) -> Result<()> {
    let (max, what) = match becomes {
        Becomes::FileName => (FILE_NAME_MAX, "a file name"),
        Becomes::UserName => (USER_NAME_MAX, "a user name"),
    };
    let shown = crate::error::cut(value, crate::error::QUOTE_MAX);
    let refuse = |why: String| {
        Err(Error::new(format!(
            "{label}{shown:?} is refused: it becomes {what} and {why}"
        )))
    };
    if value.is_empty() {
        return refuse("is empty".into());
    }
    if value.starts_with('-') {
        return refuse(
            "starts with '-', so the commands it is passed to would read it as an option".into(),
        );
    }
    if value == "." || value == ".." {
        return refuse("names a directory itself".into());
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
    {
        return refuse(format!(
            "holds {c:?}; only letters, digits, '-', '_' and '.' are allowed"
        ));
    }
    if value.len() > max {
        return refuse(format!(
            "is {} characters long, more than the {max} allowed",
            value.len()
        ));
    }
    Ok(())
}

/// Checks a list entry that is passed to a command as one argument (a package name): it must
/// not start with `-`, or the command would take it for an option.
pub(crate) fn check_argument(key: &str, value: &str) -> Result<()> {
    if value.starts_with('-') {
        return Err(Error::new(format!(
            "{key} entry {:?} is refused: it starts with '-', and the package manager it is passed to would read it as an option",
            crate::error::cut(value, crate::error::QUOTE_MAX)
        ))
        .hint(format!(
            "{key} lists package names separated by spaces; options belong in PIP_ARGS (for pip), not in a package list"
        )));
    }
    Ok(())
}

/// An absolute directory path without `..` components.
pub(crate) fn absolute_dir(key: &str, value: &str) -> Result<PathBuf> {
    let path = PathBuf::from(value);
    let parent = path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir));
    if !path.is_absolute() || parent {
        return Err(Error::new(format!(
            "{key}={} is not an absolute path",
            shown(value)
        ))
        .hint(format!(
            "{key} names a directory inside the build, e.g. /tmp (LOCI's default) or /src, without '..'"
        )));
    }
    Ok(path)
}

/// LOCI_VERSION is the loci version the Dockerfile labels the image with
/// (`org.openstack.loci.version`): a binary of another version would make that label lie, so the build stops before it starts.
pub(crate) fn check_loci_version(label: Option<&str>) -> Result<()> {
    let ours = env!("CARGO_PKG_VERSION");
    match label {
        Some(v) if v != ours => Err(Error::new(format!(
            "LOCI_VERSION={} (the image's org.openstack.loci.version label) but this loci binary is {ours}",
            shown(v)
        ))
        .hint(format!(
            "use the Dockerfile of the same loci release as LOCI_IMAGE, or pass --build-arg LOCI_VERSION={ours}"
        ))),
        _ => Ok(()),
    }
}
