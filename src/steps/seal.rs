//! Step `seal`: the last step of every build.
//!
//! Completes /etc/image_info once everything else has run (every step's time in
//! image_info.json, and the SBOM of the image as it is left: cleanup purges packages after the
//! info step), and, when SOURCE_DATE_EPOCH is given, sets the modification time of every file
//! and directory this build wrote to that instant, so that two builds from the same inputs
//! leave the same files with the same metadata (see README, "Reproducible images").
//!
//! Only what this build touched is clamped: a file of the base image keeps its time, so that
//! the layer holds no copy of it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::fmt;

use crate::error::{Error, Result};
use crate::plan::{Action, InfoAction, PlanInput, SealAction, Step};
use crate::runner;

/// Appends the `seal` step to `steps`, when it has anything to do: completing /etc/image_info
/// when a step collects it, clamping the times with SOURCE_DATE_EPOCH.
pub fn append(input: &PlanInput, steps: &mut Vec<Step>) -> Result<()> {
    let has_info = steps
        .iter()
        .flat_map(|s| &s.actions)
        .any(|a| matches!(a, Action::Info(InfoAction::CollectInfo { .. })));
    steps.extend(plan(input, has_info));
    Ok(())
}

/// The `seal` step; `has_info`: a step of the build collects /etc/image_info.
pub fn plan(input: &PlanInput, has_info: bool) -> Option<Step> {
    let c = input.config;
    let mut step = Step::new(
        "seal",
        "complete /etc/image_info; with SOURCE_DATE_EPOCH, clamp the times of what the build wrote",
    );
    if has_info {
        step = step.action(InfoAction::FinishInfo {
            dir: c.paths.image_info.clone(),
        });
    }
    if let Some(epoch) = c.source_date_epoch {
        step = step.action(SealAction::ClampMtimes {
            root: c.paths.root.clone(),
            epoch,
        });
    }
    (!step.actions.is_empty()).then_some(step)
}

impl fmt::Display for SealAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SealAction::ClampMtimes { root, epoch } = self;
        write!(
            f,
            "set the time of everything this build wrote below {} to {epoch} (SOURCE_DATE_EPOCH)",
            root.display()
        )
    }
}

/// Runs one action of this module.
pub fn run(action: &SealAction, ctx: &mut runner::Context) -> Result<()> {
    let SealAction::ClampMtimes { root, epoch } = action;
    let n = clamp_mtimes(root, *epoch, ctx.state.started_wall)?;
    crate::say!("set the time of {n} files and directories to {epoch}");
    Ok(())
}

/// How far before the build's start a file time still counts as written by the build: file
/// times come from the kernel's coarse clock, which lags the wall clock by a few milliseconds.
const CLOCK_SLACK: Duration = Duration::from_secs(1);

/// Sets the modification (and access) time of every file, directory and symlink below `root`
/// that was modified at or after `since` to `epoch`, children before their directory. Does not
/// cross into other file systems (bind mounts, /proc, /dev). Returns how many were set.
pub fn clamp_mtimes(root: &Path, epoch: u64, since: SystemTime) -> Result<usize> {
    let root_dev = std::fs::symlink_metadata(root)
        .map_err(|e| Error::new(format!("cannot inspect {}", root.display())).caused_by(e))?
        .dev();
    let since = since.checked_sub(CLOCK_SLACK).unwrap_or(UNIX_EPOCH);
    let stamp = filetime::FileTime::from_unix_time(epoch as i64, 0);
    let instant = UNIX_EPOCH + Duration::from_secs(epoch);
    let mut set = 0usize;
    // (path, children already pushed): a directory is visited again after its children.
    let mut stack: Vec<(PathBuf, bool)> = vec![(root.to_path_buf(), false)];
    while let Some((path, expanded)) = stack.pop() {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            // Gone since it was listed (a lock file, say): nothing to clamp.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::new(format!("cannot inspect {}", path.display())).caused_by(e))
            }
        };
        if meta.dev() != root_dev {
            continue;
        }
        if meta.is_dir() && !expanded {
            stack.push((path.clone(), true));
            let entries = std::fs::read_dir(&path)
                .map_err(|e| Error::new(format!("cannot list {}", path.display())).caused_by(e))?;
            for entry in entries {
                let entry = entry.map_err(|e| {
                    Error::new(format!("cannot list {}", path.display())).caused_by(e)
                })?;
                stack.push((entry.path(), false));
            }
            continue;
        }
        let modified = meta.modified().unwrap_or(UNIX_EPOCH);
        if modified >= since && modified != instant {
            filetime::set_symlink_file_times(&path, stamp, stamp).map_err(|e| {
                Error::new(format!(
                    "cannot set the time of {} to SOURCE_DATE_EPOCH={epoch}",
                    path.display()
                ))
                .caused_by(e)
                .hint("the image root must be writable by the build (loci runs as root in the Dockerfile's RUN)")
            })?;
            set += 1;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mtime(p: &Path) -> i64 {
        std::fs::symlink_metadata(p).unwrap().mtime()
    }

    #[test]
    fn only_what_changed_since_the_start_is_clamped_children_first() {
        let d = tempfile::tempdir().unwrap();
        let old = d.path().join("old.txt");
        std::fs::write(&old, "from the base image").unwrap();
        let old_time = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        filetime::set_file_times(&old, old_time, old_time).unwrap();
        let start = SystemTime::now();
        let dir = d.path().join("venv/lib");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("new.py"), "x = 1\n").unwrap();
        std::os::unix::fs::symlink("lib", d.path().join("venv/lib64")).unwrap();

        let set = clamp_mtimes(d.path(), 1_700_000_000, start).unwrap();

        assert_eq!(
            mtime(&old),
            1_600_000_000,
            "a file older than the build is left alone"
        );
        for p in ["venv/lib/new.py", "venv/lib", "venv", "venv/lib64", ""] {
            assert_eq!(mtime(&d.path().join(p)), 1_700_000_000, "{p}");
        }
        // new.py, lib, lib64 (the link itself), venv and the root (its entries changed).
        assert_eq!(set, 5);
        // The link still points where it did.
        assert_eq!(
            std::fs::read_link(d.path().join("venv/lib64")).unwrap(),
            Path::new("lib")
        );
        // A second pass finds nothing left to do.
        assert_eq!(clamp_mtimes(d.path(), 1_700_000_000, start).unwrap(), 0);
    }

    #[test]
    fn the_seal_step_clamps_only_with_source_date_epoch() {
        let env = crate::config::Env::from([
            ("PROJECT".to_string(), "keystone".to_string()),
            ("WHEELS".to_string(), "/tmp/wheels".to_string()),
        ]);
        let os = crate::os_release::OsRelease::parse(
            "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        );
        let distro = crate::distro::Distro::detect(&os, None, None).unwrap();
        let plan = |env: &crate::config::Env| {
            let config = crate::config::Config::from_env(env).unwrap();
            let input = PlanInput::new(&config, &distro);
            plan(&input, true).unwrap().actions
        };
        let without = plan(&env);
        assert_eq!(without.len(), 1);
        assert!(matches!(
            without[0],
            Action::Info(InfoAction::FinishInfo { .. })
        ));
        let mut env = env.clone();
        env.insert("SOURCE_DATE_EPOCH".into(), "1700000000".into());
        let with = plan(&env);
        assert_eq!(
            with[1],
            Action::Seal(SealAction::ClampMtimes {
                root: "/".into(),
                epoch: 1_700_000_000
            })
        );
    }
}
