//! Running out of disk space, said plainly: which path, how much space its filesystem has
//! left, how much was needed. A leaf module.

use std::io;
use std::path::Path;

use crate::error::Error;

/// Whether `e` is "no space left on device" or "disk quota exceeded".
pub fn is_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(c) if c == nix::libc::ENOSPC || c == nix::libc::EDQUOT)
        || e.kind() == io::ErrorKind::StorageFull
}

/// The space left to an unprivileged writer on the filesystem holding `path` (or its nearest
/// existing ancestor), in bytes.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|a| a.exists())?;
    let st = nix::sys::statvfs::statvfs(existing).ok()?;
    Some((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

/// `n` bytes for a message: `12.3 MiB`, `640 KiB`, `17 bytes`.
pub fn size(n: u64) -> String {
    if n >= 1 << 30 {
        format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64)
    } else if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// The error for a failed write of `path`: when the disk is full, it says how much space is
/// left on that filesystem and, when known, how much the whole write `needed`.
pub fn write_error(path: &Path, e: io::Error, needed: Option<u64>) -> Error {
    if !is_full(&e) {
        return Error::new(format!("cannot write {}", path.display())).caused_by(e);
    }
    Error::new(format!("cannot write {}: the disk is full", path.display()))
        .cause(full_cause(path, needed))
        .hint("free space on that filesystem (docker builder prune, docker system prune), or give the build more room, and run it again: nothing half-written was kept")
}

/// What a full filesystem looks like from `path`: `no space left on device: 0 bytes free on
/// the filesystem of PATH (4.0 MiB needed)`.
pub fn full_cause(path: &Path, needed: Option<u64>) -> String {
    let free = free_bytes(path)
        .map(size)
        .unwrap_or_else(|| "no space".into());
    let needed = needed
        .map(|n| format!(", {} needed", size(n)))
        .unwrap_or_default();
    format!(
        "no space left on device: {free} free on the filesystem of {}{needed}",
        path.display()
    )
}

/// Whether a program's output line says the disk is full (Python's `[Errno 28]`, Rust's
/// `os error 28`, the C library's text).
pub fn says_full(line: &str) -> bool {
    line.contains("No space left on device")
        || line.contains("Errno 28")
        || line.contains("os error 28")
        || line.contains("Disk quota exceeded")
}

/// The free space of the filesystems of `paths` (each filesystem once, named by the first of
/// its paths given, the fullest first), for a message: `0 bytes free on the filesystem of /var/lib/openstack,
/// 12.1 GiB on that of /tmp`. Paths that do not exist count by their nearest existing parent.
pub fn free_report(paths: &[&Path]) -> String {
    use std::os::unix::fs::MetadataExt;
    let mut seen: Vec<u64> = Vec::new();
    let mut found: Vec<(Option<u64>, &Path)> = Vec::new();
    for p in paths {
        // A file (or a symlink such as a venv's python) counts by its directory.
        let Some(existing) = p
            .ancestors()
            .find(|a| std::fs::symlink_metadata(a).is_ok_and(|m| m.is_dir()))
        else {
            continue;
        };
        let Ok(dev) = std::fs::metadata(existing).map(|m| m.dev()) else {
            continue;
        };
        if seen.contains(&dev) {
            continue;
        }
        seen.push(dev);
        found.push((free_bytes(existing), p));
    }
    // The fullest first.
    found.sort_by_key(|(free, _)| free.unwrap_or(u64::MAX));
    found
        .iter()
        .enumerate()
        .map(|(i, (free, p))| {
            let free = free.map(size).unwrap_or_else(|| "unknown space".into());
            if i == 0 {
                format!("{free} free on the filesystem of {}", p.display())
            } else {
                format!("{free} on that of {}", p.display())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_named_with_the_space_left_and_needed() {
        let e = io::Error::from_raw_os_error(nix::libc::ENOSPC);
        assert!(is_full(&e));
        let d = tempfile::tempdir().unwrap();
        let text = write_error(&d.path().join("a/b.whl"), e, Some(3 << 20)).to_string();
        assert!(
            text.contains(&format!(
                "cannot write {}/a/b.whl: the disk is full",
                d.path().display()
            )),
            "{text}"
        );
        assert!(
            text.contains("free on the filesystem of") && text.contains("3.0 MiB needed"),
            "{text}"
        );
        let other = write_error(
            Path::new("/x"),
            io::Error::from_raw_os_error(nix::libc::EACCES),
            None,
        );
        assert!(!other.to_string().contains("disk is full"));
        assert_eq!(size(17), "17 bytes");
        assert_eq!(size(640 << 10), "640 KiB");
    }
}
