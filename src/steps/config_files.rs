//! Step `config`: with COPY_DEFAULT_CONFIG_FILES=yes, copy the project's default config files
//! from the venv (`/var/lib/openstack/etc/PROJECT`) to `/etc/PROJECT`.

use std::fmt;
use std::path::Path;

use crate::error::{Context, Result};
use crate::plan::{ConfigFilesAction, PlanInput, Step};
use crate::runner;

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    if !c.copy_default_config_files {
        return Ok(None);
    }
    Ok(Some(
        Step::new(
            "config",
            format!("default config files to /etc/{}", c.project),
        )
        .action(ConfigFilesAction::CopyConfigFiles {
            from: c.paths.venv.join("etc").join(&c.project),
            to: Path::new("/etc").join(&c.project),
        }),
    ))
}

impl fmt::Display for ConfigFilesAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ConfigFilesAction::CopyConfigFiles { from, to } = self;
        write!(f, "copy {}/* -> {}", from.display(), to.display())
    }
}

/// Runs one action of this module.
pub fn run(action: &ConfigFilesAction, _ctx: &mut runner::Context) -> Result<()> {
    let ConfigFilesAction::CopyConfigFiles { from, to } = action;
    copy(from, to)
}

/// Copies the tree under `from` into `to` (a missing `from` is not an error: many projects
/// ship no default config files, and LOCI ignores it too).
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    if !from.is_dir() {
        crate::say!(
            "{} does not exist: no default config files to copy",
            from.display()
        );
        return Ok(());
    }
    for entry in walkdir::WalkDir::new(from).min_depth(1) {
        let entry = entry.context(|| format!("cannot read {}", from.display()))?;
        let rel = entry.path().strip_prefix(from).expect("below from");
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)
                .context(|| format!("cannot create {}", target.display()))?;
        } else {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::copy(entry.path(), &target).context(|| {
                format!(
                    "cannot copy {} to {}",
                    entry.path().display(),
                    target.display()
                )
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn copies_trees_and_tolerates_missing_source() {
        let d = tempfile::tempdir().unwrap();
        let from = d.path().join("venv/etc/keystone");
        std::fs::create_dir_all(from.join("sub")).unwrap();
        std::fs::write(from.join("keystone.conf.sample"), "x").unwrap();
        std::fs::write(from.join("sub/policy.yaml"), "y").unwrap();
        let to = d.path().join("etc/keystone");
        super::copy(&from, &to).unwrap();
        assert_eq!(
            std::fs::read_to_string(to.join("sub/policy.yaml")).unwrap(),
            "y"
        );
        super::copy(&d.path().join("nope"), &to).unwrap();
    }
}
