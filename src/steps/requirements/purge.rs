//! Step `purge`: LOCI's `rm -rf /!(*whl|*txt)`, natively, leaving mount points alone.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Context, Error, Result};
use crate::host::ancestry;
pub use crate::host::runs_as_container_command;
use crate::steps::cleanup::{remove_contents, Removal};

/// What [`purge`] did: the wheels and txt files kept at the root, what was removed, the
/// mount points left alone, the busy entries and the other failures (reported, not fatal:
/// LOCI ignores them too).
pub type PurgeReport = Removal;

/// Whether an entry at the top of the root is kept by the purge.
pub fn keep_at_root(name: &str, meta: &fs::Metadata) -> bool {
    !meta.is_dir() && (name.ends_with(".whl") || name.ends_with(".txt"))
}

/// Refuses to purge the real `/` unless loci runs as a container's command.
fn refuse_outside_a_container(root: &Path) -> Result<()> {
    if root != Path::new("/") {
        return Ok(());
    }
    refuse_for_ancestry(&ancestry())
}

/// The decision of [`refuse_outside_a_container`] for `/`, given loci's process ancestry
/// (innermost first).
fn refuse_for_ancestry(chain: &[(u32, String)]) -> Result<()> {
    if runs_as_container_command(chain) {
        return Ok(());
    }
    let shown: Vec<String> = chain.iter().map(|(p, c)| format!("{c}({p})")).collect();
    Err(Error::new("refusing to delete everything at / outside a container build")
        .cause(format!("loci's process ancestry is {}", shown.join(" <- ")))
        .hint("PROJECT=requirements leaves only the wheels at /: run it as the command of a `docker build` RUN (loci or its shell as PID 1), never on a host"))
}

/// [`crate::plan::RequirementsAction::PurgeRoot`]: deletes everything at `root` except `*.whl` and `*.txt`, leaving
/// mount points (another device than the root's) alone and ignoring busy entries.
pub fn purge(root: &Path) -> Result<PurgeReport> {
    refuse_outside_a_container(root)?;
    let dev = fs::symlink_metadata(root)
        .context(|| format!("cannot inspect {}", root.display()))?
        .dev();
    let r = purge_with(root, &|_, m| m.dev() != dev)?;
    crate::say!(
        "kept {} files at {}, removed {} entries, left {} mount points alone{}",
        r.kept.len(),
        root.display(),
        r.removed,
        r.mounts.len(),
        if r.busy > 0 {
            format!(", {} busy", r.busy)
        } else {
            String::new()
        }
    );
    for e in &r.errors {
        crate::say!("warning: {e}");
    }
    Ok(r)
}

/// [`purge`] with the mount-point test as a parameter.
pub fn purge_with(
    root: &Path,
    is_mount: &dyn Fn(&Path, &fs::Metadata) -> bool,
) -> Result<PurgeReport> {
    remove_contents(root, &keep_at_root, is_mount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_keeps_wheels_and_txt_and_skips_mounts() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::write(root.join("six-1.17.0-py3-none-any.whl"), "w").unwrap();
        std::fs::write(root.join("upper-constraints.txt"), "c").unwrap();
        std::fs::create_dir_all(root.join("usr/lib/python3/x")).unwrap();
        std::fs::write(root.join("usr/lib/python3/x/a.py"), "x").unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/hosts"), "x").unwrap();
        std::fs::write(root.join("etc/passwd"), "x").unwrap();
        std::fs::create_dir_all(root.join("proc/1")).unwrap();
        std::fs::create_dir_all(root.join("dir.txt")).unwrap();
        std::fs::write(root.join(".hidden"), "x").unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        // /proc and /etc/hosts stand for mount points.
        let r = purge_with(root, &|p, _| {
            p.ends_with("proc") || p.ends_with("etc/hosts")
        })
        .unwrap();
        assert_eq!(
            r.kept,
            ["six-1.17.0-py3-none-any.whl", "upper-constraints.txt"]
        );
        assert_eq!(r.mounts, [root.join("etc/hosts"), root.join("proc")]);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.busy, 1, "etc still holds the mounted hosts file");
        let mut left: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "etc",
                "proc",
                "six-1.17.0-py3-none-any.whl",
                "upper-constraints.txt"
            ]
        );
        assert!(root.join("etc/hosts").exists() && !root.join("etc/passwd").exists());
        assert!(root.join("proc/1").exists());
    }

    #[test]
    fn the_real_root_is_purged_only_as_a_container_command() {
        let c = |v: &[(u32, &str)]| {
            v.iter()
                .map(|(p, n)| (*p, n.to_string()))
                .collect::<Vec<_>>()
        };
        // RUN ... && exec loci build: loci is PID 1.
        assert!(runs_as_container_command(&c(&[(1, "loci")])));
        // RUN loci build && ...: the RUN's shell is PID 1.
        assert!(runs_as_container_command(&c(&[(7, "loci"), (1, "sh")])));
        assert!(runs_as_container_command(&c(&[
            (9, "loci"),
            (7, "sh"),
            (1, "docker-init")
        ])));
        // A host, or a shell session inside a container.
        assert!(!runs_as_container_command(&c(&[
            (900, "loci"),
            (1, "systemd")
        ])));
        assert!(!runs_as_container_command(&c(&[
            (900, "loci"),
            (800, "bash"),
            (1, "sh")
        ])));
        assert!(!runs_as_container_command(&c(&[
            (900, "loci"),
            (800, "bash"),
            (700, "sshd"),
            (1, "systemd")
        ])));
        assert!(
            !runs_as_container_command(&c(&[(900, "loci")])),
            "no /proc: no proof"
        );
        // The purge of `/` follows that decision, and a refusal names the ancestry.
        assert!(refuse_for_ancestry(&c(&[(7, "loci"), (1, "sh")])).is_ok());
        let e = refuse_for_ancestry(&c(&[(900, "loci"), (1, "systemd")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("refusing to delete everything at /")
                && e.contains("loci(900) <- systemd(1)"),
            "{e}"
        );
        // This process's real ancestry is read from /proc and reaches PID 1.
        let chain = ancestry();
        assert_eq!(chain[0].0, std::process::id());
        assert_eq!(chain.last().unwrap().0, 1, "{chain:?}");
        // Any other root is not the machine's: never refused.
        assert!(refuse_outside_a_container(Path::new("/tmp/x")).is_ok());
    }

    #[test]
    fn purge_uses_the_device_number() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("var/lib")).unwrap();
        std::fs::write(d.path().join("a.whl"), "w").unwrap();
        let r = purge(d.path()).unwrap();
        assert_eq!(r.kept, ["a.whl"]);
        assert!(r.mounts.is_empty());
        assert!(!d.path().join("var").exists());
    }
}
