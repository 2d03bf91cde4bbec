//! The Python package caches (BuildKit cache mounts shared by the builds of one FROM and
//! platform) checked before a build uses them: an entry that a broken writer, a full disk or a
//! hand left damaged is removed, so that pip or uv fetch or build it again instead of
//! installing it.
//!
//! - uv's unpacked wheels (`uv/archive-v*/ID/`): every file the wheel's RECORD lists must be
//!   there with the size RECORD gives; an entry with a missing or truncated file is removed
//!   with uv's pointers to it (its `.rev`/`.http` files naming the ID, its links to it), so that
//!   uv unpacks the wheel again instead of failing on the missing entry.
//! - Cached wheel files (`*.whl` anywhere in the cache: pip's built wheels, uv's): each must be
//!   a whole zip archive (its central directory readable); a truncated one is removed.
//!
//! Both tools write their cache entries atomically (a temporary name, then a rename), so a
//! build running beside this one never leaves a half-written entry: what fails these checks
//! is damage.

use std::path::{Path, PathBuf};

/// What [`repair_python`] found and removed, for the build log.
#[derive(Debug, Default)]
pub struct Repaired {
    /// The entries removed, with why.
    pub removed: Vec<(PathBuf, String)>,
    /// How many entries were checked.
    pub checked: usize,
}

/// Checks the Python caches under `python` (the cache mount's `python` directory) and removes
/// the damaged entries.
pub fn repair_python(python: &Path) -> Repaired {
    let mut out = Repaired::default();
    let mut removed_ids: Vec<String> = Vec::new();
    let uv = python.join("uv");
    if let Ok(buckets) = std::fs::read_dir(&uv) {
        for bucket in buckets.flatten() {
            if !bucket
                .file_name()
                .to_string_lossy()
                .starts_with("archive-v")
            {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(bucket.path()) else {
                continue;
            };
            for entry in entries.flatten() {
                let dir = entry.path();
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                out.checked += 1;
                if let Err(why) = check_unpacked(&dir) {
                    if std::fs::remove_dir_all(&dir).is_ok() {
                        removed_ids.push(entry.file_name().to_string_lossy().into_owned());
                        out.removed.push((dir, why));
                    }
                }
            }
        }
    }
    if !removed_ids.is_empty() {
        drop_pointers(&uv, &removed_ids);
    }
    for entry in walkdir::WalkDir::new(python)
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with("archive-v"))
        .flatten()
    {
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|x| x != "whl") {
            continue;
        }
        out.checked += 1;
        let whole = std::fs::File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|mut f| crate::pypi::zip_names(&mut f).map(drop));
        if let Err(why) = whole {
            if std::fs::remove_file(path).is_ok() {
                out.removed.push((path.to_path_buf(), why));
            }
        }
    }
    out
}

/// Removes uv's pointers to the removed archive entries `ids`: the links that now dangle and
/// the small pointer files (`.rev`, `.http`, msgpack) that name one of them.
fn drop_pointers(uv: &Path, ids: &[String]) {
    for entry in walkdir::WalkDir::new(uv)
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with("archive-v"))
        .flatten()
    {
        let path = entry.path();
        if entry.path_is_symlink() {
            if std::fs::metadata(path).is_err() {
                let _ = std::fs::remove_file(path);
            }
            continue;
        }
        if !entry.file_type().is_file() || entry.metadata().map_or(true, |m| m.len() > 64 << 10) {
            continue;
        }
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let names_one = ids
            .iter()
            .any(|id| !id.is_empty() && bytes.windows(id.len()).any(|w| w == id.as_bytes()));
        if names_one {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// An unpacked wheel: every file of its RECORD there, of the size RECORD gives.
fn check_unpacked(dir: &Path) -> std::result::Result<(), String> {
    let record = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "dist-info"))
        .map(|d| d.join("RECORD"))
        .ok_or("no .dist-info")?;
    let text = std::fs::read_to_string(&record).map_err(|e| format!("RECORD: {e}"))?;
    for line in text.lines() {
        // `path,sha256=...,size`; a path with a comma is quoted (csv).
        let Some((rest, size)) = line.rsplit_once(',') else {
            continue;
        };
        let Some((path, _hash)) = rest.rsplit_once(',') else {
            continue;
        };
        let Ok(size) = size.trim().parse::<u64>() else {
            continue;
        };
        let path = path.trim_matches('"');
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            continue;
        }
        match std::fs::metadata(dir.join(path)) {
            Ok(m) if m.len() == size => {}
            Ok(m) => return Err(format!("{path} is {} bytes, RECORD says {size}", m.len())),
            // Files RECORD lists outside the package (scripts, data) are not unpacked here.
            Err(_) if path.contains(".data/") => {}
            Err(_) => return Err(format!("{path} is missing")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_entries_are_removed_and_sound_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        let python = d.path();
        let unpacked = |id: &str, body: &[u8], record_size: usize| {
            let e = python.join("uv/archive-v0").join(id);
            std::fs::create_dir_all(e.join("pkg")).unwrap();
            std::fs::create_dir_all(e.join("pkg-1.0.dist-info")).unwrap();
            std::fs::write(e.join("pkg/mod.py"), body).unwrap();
            std::fs::write(
                e.join("pkg-1.0.dist-info/RECORD"),
                format!("pkg/mod.py,sha256=x,{record_size}\npkg-1.0.dist-info/RECORD,,\n"),
            )
            .unwrap();
            e
        };
        let sound = unpacked("sound", b"print(1)\n", 9);
        let cut = unpacked("cut", b"pri", 9);
        let wheels = python.join("pip/wheels/ab");
        std::fs::create_dir_all(&wheels).unwrap();
        let whole = wheels.join("a-1-py3-none-any.whl");
        std::fs::write(&whole, crate::pypi::test_wheel::wheel("a", "1")).unwrap();
        let truncated = wheels.join("b-1-py3-none-any.whl");
        let mut b = crate::pypi::test_wheel::wheel("b", "1");
        b.truncate(b.len() / 2);
        std::fs::write(&truncated, b).unwrap();

        // uv's pointers: a .rev naming the damaged entry, one naming the sound one, a link.
        let index = python.join("uv/wheels-v8/index/x/pkg");
        std::fs::create_dir_all(&index).unwrap();
        std::fs::write(index.join("1.0-py3-none-any.rev"), b"\x92\xa3cut\xa4pkg").unwrap();
        std::fs::write(index.join("0.9-py3-none-any.rev"), b"\x92\xa5sound").unwrap();
        std::os::unix::fs::symlink(&cut, index.join("1.0-link")).unwrap();

        let r = repair_python(python);
        assert_eq!(r.checked, 4);
        assert!(!index.join("1.0-py3-none-any.rev").exists());
        assert!(index.join("0.9-py3-none-any.rev").exists());
        assert!(std::fs::symlink_metadata(index.join("1.0-link")).is_err());
        let removed: Vec<&Path> = r.removed.iter().map(|(p, _)| p.as_path()).collect();
        assert_eq!(removed.len(), 2, "{:?}", r.removed);
        assert!(removed.contains(&cut.as_path()) && removed.contains(&truncated.as_path()));
        assert!(r
            .removed
            .iter()
            .any(|(_, why)| why == "pkg/mod.py is 3 bytes, RECORD says 9"));
        assert!(sound.is_dir() && whole.is_file());
        assert!(!cut.exists() && !truncated.exists());
        // Nothing there: nothing to do.
        assert_eq!(repair_python(&d.path().join("none")).checked, 0);
    }
}
