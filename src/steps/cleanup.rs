//! Step `cleanup`: leave a lightweight image.
//!
//! Purges the build-only packages (git, and patch from LOCI's base image) that are installed, unless bindep or
//! DIST_PACKAGES asked for them, drops package-manager caches (a base image without the
//! official images' apt settings keeps every downloaded .deb), turns on system site packages in
//! the venv, deletes bytecode, and empties /tmp, /root/.cache, /etc/machine-id and /opt/loci.
//! The package manager's logs go too: they record the build's dates.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use crate::plan::{CleanupAction, PackagesAction, PlanInput, Step};
use crate::runner;

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let d = input.distro;
    let mut step = Step::new(
        "cleanup",
        "remove build-only packages, caches and leftovers",
    );
    if input.stage == crate::plan::Stage::Builder {
        // Only the venv and /etc/image_info leave the builder: make the venv final.
        step.summary = "make the venv final: no bytecode, system site packages on".into();
        return Ok(Some(
            step.action(CleanupAction::SystemSitePackages {
                venv: c.paths.venv.clone(),
            })
            .action(CleanupAction::DeleteBytecode {
                roots: vec![c.paths.venv.clone()],
            }),
        ));
    }
    let runtime = input.stage == crate::plan::Stage::Runtime;
    if !runtime {
        // What bindep and DIST_PACKAGES asked for stays.
        let keep = super::packages::project_packages(input)?;
        let purge: Vec<String> = d
            .build_only_packages()
            .into_iter()
            .filter(|p| !keep.contains(p))
            .collect();
        if !purge.is_empty() {
            let cmd = d.purge_cmd(&purge);
            step = step.action(if c.plugin {
                // The image a plugin builds on may keep git: only what this build installed.
                PackagesAction::PurgeInstalledHere {
                    purge: cmd,
                    packages: purge,
                }
            } else {
                PackagesAction::Purge {
                    purge: cmd,
                    packages: purge,
                }
            });
        }
    }
    step = step.run(d.clean_cmd());
    step = step.action(CleanupAction::Remove {
        paths: d.cache_dirs().into_iter().map(PathBuf::from).collect(),
        contents_only: true,
    });
    step = step.action(CleanupAction::Remove {
        paths: d.build_logs().into_iter().map(PathBuf::from).collect(),
        contents_only: false,
    });
    if !c.builds_requirements() {
        step = step.action(CleanupAction::SystemSitePackages {
            venv: c.paths.venv.clone(),
        });
    }
    step = step
        .action(CleanupAction::Remove {
            paths: vec![c.paths.data_dir.clone()],
            contents_only: true,
        })
        .action(CleanupAction::Remove {
            paths: vec![
                "/root/.cache".into(),
                "/etc/machine-id".into(),
                c.paths.loci_dir.clone(),
            ],
            contents_only: false,
        })
        .action(CleanupAction::DeleteBytecode {
            roots: vec!["/usr".into(), "/var".into()],
        });
    Ok(Some(step))
}

impl fmt::Display for CleanupAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |paths: &[PathBuf]| {
            paths
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            CleanupAction::Remove {
                paths,
                contents_only,
            } => write!(
                f,
                "remove {}{}",
                if *contents_only {
                    "the contents of "
                } else {
                    ""
                },
                shown(paths)
            ),
            CleanupAction::DeleteBytecode { roots } => {
                write!(f, "delete *.pyc and __pycache__ under {}", shown(roots))
            }
            CleanupAction::SystemSitePackages { venv } => write!(
                f,
                "set include-system-site-packages = true in {}/pyvenv.cfg",
                venv.display()
            ),
        }
    }
}

/// Runs one action of this module.
pub fn run(action: &CleanupAction, _ctx: &mut runner::Context) -> Result<()> {
    match action {
        CleanupAction::Remove {
            paths,
            contents_only,
        } => remove(paths, *contents_only),
        CleanupAction::DeleteBytecode { roots } => delete_bytecode(roots),
        CleanupAction::SystemSitePackages { venv } => system_site_packages(venv),
    }
}

/// Removes `paths` (or only what is inside them). Missing paths are fine. Mount points below
/// them (a bind-mounted wheels dir, say: another device than the path's) are left alone: they
/// are not part of the image; so are busy entries. Any other failure fails the step, once
/// everything else has been removed.
pub fn remove(paths: &[PathBuf], contents_only: bool) -> Result<()> {
    for path in paths {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::new(format!("cannot inspect {}", path.display())).cause(e)),
        };
        let dev = meta.dev();
        let is_mount = |_: &Path, m: &std::fs::Metadata| m.dev() != dev;
        let r = if contents_only && meta.is_dir() {
            remove_contents(path, &|_, _| false, &is_mount)?
        } else {
            let mut r = Removal::default();
            remove_tree(path, &meta, &is_mount, &mut r);
            r
        };
        for m in &r.mounts {
            crate::say!("leaving mount point {} alone", m.display());
        }
        if let Some((first, rest)) = r.errors.split_first() {
            let mut e = Error::new(first.clone());
            if !rest.is_empty() {
                e = e.cause(format!("and:\n{}", rest.join("\n")));
            }
            return Err(e);
        }
    }
    Ok(())
}

/// What a removal did.
#[derive(Debug, Default)]
pub struct Removal {
    /// Entries of the emptied directory kept (sorted).
    pub kept: Vec<String>,
    /// Entries removed, at any depth.
    pub removed: usize,
    /// Mount points left alone.
    pub mounts: Vec<PathBuf>,
    /// Entries that could not be removed because they are busy (mount points in use) or hold
    /// a mount point.
    pub busy: usize,
    /// Other failures, one line each.
    pub errors: Vec<String>,
}

/// Empties `dir` except the entries `keep` accepts (by name and metadata), leaving alone what
/// `is_mount` says is a mount point, at any depth. Only listing `dir` itself is an error;
/// everything else is counted in the [`Removal`].
pub fn remove_contents(
    dir: &Path,
    keep: &dyn Fn(&str, &std::fs::Metadata) -> bool,
    is_mount: &dyn Fn(&Path, &std::fs::Metadata) -> bool,
) -> Result<Removal> {
    let mut report = Removal::default();
    let entries = std::fs::read_dir(dir).context(|| format!("cannot list {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if keep(&name, &meta) {
            report.kept.push(name);
            continue;
        }
        remove_tree(&p, &meta, is_mount, &mut report);
    }
    report.kept.sort();
    Ok(report)
}

/// Removes `p` (whose metadata is `meta`) and everything below it, depth first, leaving alone
/// what `is_mount` says is a mount point and the directories that hold one.
pub fn remove_tree(
    p: &Path,
    meta: &std::fs::Metadata,
    is_mount: &dyn Fn(&Path, &std::fs::Metadata) -> bool,
    report: &mut Removal,
) {
    if is_mount(p, meta) {
        report.mounts.push(p.to_path_buf());
        return;
    }
    let result = if meta.is_dir() {
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.filter_map(|e| e.ok()) {
                let child = e.path();
                if let Ok(m) = std::fs::symlink_metadata(&child) {
                    remove_tree(&child, &m, is_mount, report);
                }
            }
        }
        std::fs::remove_dir(p)
    } else {
        std::fs::remove_file(p)
    };
    match result {
        Ok(()) => report.removed += 1,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        // Busy: a mount point in use (BuildKit mounts, /tmp itself); not empty: it holds one.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(nix::libc::EBUSY) | Some(nix::libc::ENOTEMPTY)
            ) =>
        {
            report.busy += 1
        }
        Err(e) => report
            .errors
            .push(format!("cannot remove {}: {e}", p.display())),
    }
}

/// Deletes `*.pyc` files and `__pycache__` directories below `roots`, staying on each root's
/// file system.
pub fn delete_bytecode(roots: &[PathBuf]) -> Result<()> {
    let mut removed = 0usize;
    for root in roots {
        if !root.exists() {
            continue;
        }
        let mut it = walkdir::WalkDir::new(root)
            .same_file_system(true)
            .into_iter();
        while let Some(entry) = it.next() {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name().to_string_lossy();
            if entry.file_type().is_dir() && name == "__pycache__" {
                std::fs::remove_dir_all(entry.path()).map_err(|e| {
                    Error::new(format!("cannot remove {}", entry.path().display())).cause(e)
                })?;
                it.skip_current_dir();
                removed += 1;
            } else if entry.file_type().is_file() && name.ends_with(".pyc") {
                std::fs::remove_file(entry.path()).map_err(|e| {
                    Error::new(format!("cannot remove {}", entry.path().display())).cause(e)
                })?;
                removed += 1;
            }
        }
    }
    crate::say!("removed {removed} bytecode files and __pycache__ directories");
    Ok(())
}

/// Sets `include-system-site-packages = true` in the venv (packaged modules such as
/// python3-rbd are not pip-installable and must stay importable).
pub fn system_site_packages(venv: &Path) -> Result<()> {
    let cfg = venv.join("pyvenv.cfg");
    let text = match std::fs::read_to_string(&cfg) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::new(format!("cannot read {}", cfg.display())).cause(e)),
    };
    let mut found = false;
    let mut out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("include-system-site-packages") {
                found = true;
                "include-system-site-packages = true".to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    if !found {
        out.push("include-system-site-packages = true".into());
    }
    std::fs::write(&cfg, out.join("\n") + "\n")
        .map_err(|e| Error::new(format!("cannot write {}", cfg.display())).cause(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_bytecode_and_caches() {
        let d = tempfile::tempdir().unwrap();
        let lib = d.path().join("usr/lib/python3/x");
        std::fs::create_dir_all(lib.join("__pycache__")).unwrap();
        std::fs::write(lib.join("__pycache__/a.cpython-311.pyc"), "x").unwrap();
        std::fs::write(lib.join("b.pyc"), "x").unwrap();
        std::fs::write(lib.join("b.py"), "x").unwrap();
        delete_bytecode(&[d.path().join("usr"), d.path().join("missing")]).unwrap();
        assert!(!lib.join("__pycache__").exists());
        assert!(!lib.join("b.pyc").exists());
        assert!(lib.join("b.py").exists());
    }

    #[test]
    fn empties_directories_and_removes_files() {
        let d = tempfile::tempdir().unwrap();
        let tmp = d.path().join("tmp");
        std::fs::create_dir_all(tmp.join("keystone/.git")).unwrap();
        std::fs::write(tmp.join("upper-constraints.txt"), "x").unwrap();
        std::fs::write(d.path().join("machine-id"), "x").unwrap();
        remove(std::slice::from_ref(&tmp), true).unwrap();
        assert!(tmp.exists());
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
        remove(&[d.path().join("machine-id"), d.path().join("nope")], false).unwrap();
        assert!(!d.path().join("machine-id").exists());
    }

    #[test]
    fn flips_system_site_packages() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("pyvenv.cfg"),
            "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
        )
        .unwrap();
        system_site_packages(d.path()).unwrap();
        let t = std::fs::read_to_string(d.path().join("pyvenv.cfg")).unwrap();
        assert_eq!(
            t,
            "home = /usr/bin\ninclude-system-site-packages = true\nversion = 3.11.2\n"
        );
    }

    #[test]
    fn the_shared_remover_leaves_mount_points_alone_at_any_depth() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("a/b/mnt/inside")).unwrap();
        std::fs::write(root.join("a/b/file"), "x").unwrap();
        std::fs::write(root.join("keep.whl"), "w").unwrap();
        std::fs::create_dir_all(root.join("c")).unwrap();
        // a/b/mnt stands for a mount point three levels down.
        let r = remove_contents(root, &|name, _| name.ends_with(".whl"), &|p, _| {
            p.ends_with("a/b/mnt")
        })
        .unwrap();
        assert_eq!(r.kept, ["keep.whl"]);
        assert_eq!(r.mounts, [root.join("a/b/mnt")]);
        assert_eq!(r.busy, 2, "a and a/b hold the mount point");
        assert_eq!(r.removed, 2, "a/b/file and c");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert!(root.join("a/b/mnt/inside").is_dir());
        assert!(!root.join("a/b/file").exists() && !root.join("c").exists());
        assert!(remove_contents(&root.join("missing"), &|_, _| false, &|_, _| false).is_err());
    }

    #[test]
    fn a_tree_without_mount_points_goes_whole() {
        let d = tempfile::tempdir().unwrap();
        let tmp = d.path().join("tmp");
        std::fs::create_dir_all(tmp.join("locked/sub")).unwrap();
        std::fs::write(tmp.join("locked/sub/f"), "x").unwrap();
        std::fs::write(tmp.join("z"), "x").unwrap();
        let mut r = Removal::default();
        let meta = std::fs::symlink_metadata(&tmp).unwrap();
        // Nothing is a mount point: the whole tree goes.
        remove_tree(&tmp, &meta, &|_, _| false, &mut r);
        assert_eq!((r.removed, r.busy, r.errors.len()), (5, 0, 0));
        assert!(!tmp.exists());
    }
}
