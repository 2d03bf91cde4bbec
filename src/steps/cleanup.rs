//! Step `cleanup`: leave a lightweight image.
//!
//! Purges the packages loci installed only for the build (git, patch) unless bindep or
//! DIST_PACKAGES asked for them, drops package-manager caches (a base image without the
//! official images' apt settings keeps every downloaded .deb), turns on system site packages in
//! the venv, deletes bytecode, and empties /tmp, /root/.cache, /etc/machine-id and /opt/loci.
//! The package manager's logs go too: they record the build's dates.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::plan::{Action, PlanInput, Step};

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let d = input.distro;
    let mut step = Step::new(
        "cleanup",
        "remove build-only packages, caches and leftovers",
    );
    if input.stage == crate::plan::Stage::Builder {
        // Only the venv and /etc/image_info leave the builder: make the venv final (the
        // venv step's tools, uv among them, stay, as in LOCI master).
        step.summary = "make the venv final: no bytecode, system site packages on".into();
        return Ok(Some(
            step.action(Action::SystemSitePackages {
                venv: c.paths.venv.clone(),
            })
            .action(Action::DeleteBytecode {
                roots: vec![c.paths.venv.clone()],
            }),
        ));
    }
    let runtime = input.stage == crate::plan::Stage::Runtime;
    if !c.plugin && !runtime {
        let mut keep = super::packages::bindep_packages(input)?;
        keep.extend(c.dist_packages.iter().cloned());
        let purge: Vec<String> = d
            .build_only_packages()
            .into_iter()
            .filter(|p| !keep.contains(p))
            .collect();
        if !purge.is_empty() {
            step = step.run(d.purge_cmd(&purge));
        }
    }
    step = step.run(d.clean_cmd());
    step = step.action(Action::Remove {
        paths: d.cache_dirs().into_iter().map(PathBuf::from).collect(),
        contents_only: true,
    });
    step = step.action(Action::Remove {
        paths: d.build_logs().into_iter().map(PathBuf::from).collect(),
        contents_only: false,
    });
    if !c.builds_requirements() {
        step = step.action(Action::SystemSitePackages {
            venv: c.paths.venv.clone(),
        });
    }
    step = step
        .action(Action::Remove {
            paths: vec![c.paths.data_dir.clone()],
            contents_only: true,
        })
        .action(Action::Remove {
            paths: vec![
                "/root/.cache".into(),
                "/etc/machine-id".into(),
                c.paths.loci_dir.clone(),
            ],
            contents_only: false,
        })
        .action(Action::DeleteBytecode {
            roots: vec!["/usr".into(), "/var".into()],
        });
    Ok(Some(step))
}

/// Removes `paths` (or only what is inside them). Missing paths are fine. Mount points inside
/// a directory being emptied (a bind-mounted wheels dir, say) are left alone: they are not
/// part of the image.
pub fn remove(paths: &[PathBuf], contents_only: bool) -> Result<()> {
    for path in paths {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::new(format!("cannot inspect {}", path.display())).cause(e)),
        };
        if !contents_only || !meta.is_dir() {
            remove_one(path, &meta)?;
            continue;
        }
        let entries = std::fs::read_dir(path)
            .map_err(|e| Error::new(format!("cannot list {}", path.display())).cause(e))?;
        for entry in entries {
            let entry = entry
                .map_err(|e| Error::new(format!("cannot list {}", path.display())).cause(e))?;
            let child = entry.path();
            let cmeta = std::fs::symlink_metadata(&child)
                .map_err(|e| Error::new(format!("cannot inspect {}", child.display())).cause(e))?;
            if cmeta.is_dir() && cmeta.dev() != meta.dev() {
                crate::say!("leaving mount point {} alone", child.display());
                continue;
            }
            remove_one(&child, &cmeta)?;
        }
    }
    Ok(())
}

fn remove_one(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    let r = if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        // A busy directory is a mount point (BuildKit mounts, /tmp itself): not in the image.
        Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY) => Ok(()),
        Err(e) => Err(Error::new(format!("cannot remove {}", path.display())).cause(e)),
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
}
