//! nova: the noVNC and spice-html5 web consoles (LOCI's `install_nova_console.sh`) and the user
//! swtpm runs as for emulated TPMs (LOCI's `project_specific/nova/02_add_tss_user.sh`).
//!
//! The consoles' HTML exists only upstream (the distro packages pull in a large dependency
//! tree), so they are cloned shallow into /usr/share and their git metadata dropped: less than
//! a MB in the image.

use std::path::{Path, PathBuf};

use crate::config::NovaConfig;
use crate::error::{Error, Result};
use crate::plan::{NovaHook, PlanInput, SourceAction, Step, User};
use crate::runner::{Context, Runner};

/// Where nova's novncproxy looks for noVNC (`[vnc] novncproxy_base_url` paths).
pub const NOVNC_DIR: &str = "/usr/share/novnc";
/// Where nova's spicehtml5proxy looks for spice-html5.
pub const SPICE_DIR: &str = "/usr/share/spice-html5";

/// Hook: drop the consoles' remaining git files and give noVNC >= 1.0 its old entry page.
pub const HOOK_CONSOLES: &str =
    "remove .git* from the consoles; link vnc_auto.html -> vnc_lite.html when noVNC lacks it";
/// Hook: create the tss group and user.
pub const HOOK_TSS_USER: &str =
    "create the tss group and user (NOVA_TSS_USER, NOVA_TSS_UID, NOVA_TSS_GID)";

/// The tss user as [`crate::steps::user::create`] takes it: no home directory is created and
/// no login shell given, as LOCI's useradd call does.
pub fn tss_user(n: &NovaConfig) -> User {
    User {
        name: n.tss_user.clone(),
        uid: n.tss_uid,
        gid: n.tss_gid,
        home: PathBuf::from(format!("/home/{}", n.tss_user)),
        shell: "/usr/sbin/nologin".into(),
        comment: format!("{} user", n.tss_user),
        dirs: Vec::new(),
    }
}

/// The web consoles, after the install.
pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let n = &input.config.nova;
    let step = Step::new(
        "project",
        format!(
            "nova: noVNC {} and spice-html5 {} consoles",
            n.novnc_ref, n.spice_ref
        ),
    )
    .action(SourceAction::GitClone {
        var: "NOVNC".into(),
        repo: n.novnc_repo.clone(),
        reference: n.novnc_ref.clone(),
        dest: NOVNC_DIR.into(),
        shallow_no_git: true,
    })
    .action(SourceAction::GitClone {
        var: "SPICE".into(),
        repo: n.spice_repo.clone(),
        reference: n.spice_ref.clone(),
        dest: SPICE_DIR.into(),
        shallow_no_git: true,
    })
    .action(NovaHook::Consoles {
        novnc: NOVNC_DIR.into(),
        spice: SPICE_DIR.into(),
    });
    Ok(Some(step))
}

/// The tss user, right after the nova user and before any package is installed: swtpm's
/// packages (the `tpm` profile) create a `tss` system account with whatever ids are free
/// unless it exists, and then NOVA_TSS_UID/GID could no longer be honoured.
pub fn plan_users(input: &PlanInput) -> Result<Option<Step>> {
    let user = tss_user(&input.config.nova);
    let step = Step::new(
        "project-users",
        format!(
            "nova: user {} ({}:{}) for swtpm",
            user.name, user.uid, user.gid
        ),
    )
    .action(NovaHook::TssUser { user });
    Ok(Some(step))
}

impl std::fmt::Display for NovaHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NovaHook::Consoles { .. } => HOOK_CONSOLES,
            NovaHook::TssUser { .. } => HOOK_TSS_USER,
        })
    }
}

/// Runs one of nova's hooks.
pub fn run(hook: &NovaHook, ctx: &mut Context) -> Result<()> {
    match hook {
        NovaHook::Consoles { novnc, spice } => finish_consoles(novnc, spice, &ctx.config.nova),
        NovaHook::TssUser { user } => create_tss_user(user, ctx.runner),
    }
}

/// Removes `.git*` entries (`.github`, `.gitignore`, ...) left in the console trees, as LOCI's
/// `rm -rf DIR/.git*` does, and links `vnc_auto.html` to `vnc_lite.html` when noVNC (>= 1.0)
/// has only the latter. A noVNC tree with neither page is an error: nova's proxy would serve
/// nothing.
pub fn finish_consoles(novnc: &Path, spice: &Path, n: &NovaConfig) -> Result<()> {
    for dir in [novnc, spice] {
        remove_git_files(dir)?;
    }
    let auto = novnc.join("vnc_auto.html");
    if std::fs::symlink_metadata(&auto).is_ok() {
        return Ok(());
    }
    if !novnc.join("vnc_lite.html").is_file() {
        return Err(Error::new(format!(
            "NOVNC_REPO={} at NOVNC_REF={} has neither vnc_auto.html nor vnc_lite.html",
            n.novnc_repo, n.novnc_ref
        ))
        .hint("point NOVNC_REPO at noVNC (https://github.com/novnc/novnc or a mirror) and NOVNC_REF at a release tag such as v1.3.0"));
    }
    std::os::unix::fs::symlink("vnc_lite.html", &auto).map_err(|e| {
        Error::new(format!("cannot link {} to vnc_lite.html", auto.display())).caused_by(e)
    })
}

fn remove_git_files(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::new(format!("cannot list {}", dir.display())).caused_by(e))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| Error::new(format!("cannot list {}", dir.display())).caused_by(e))?;
        if !entry.file_name().to_string_lossy().starts_with(".git") {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed
            .map_err(|e| Error::new(format!("cannot remove {}", path.display())).caused_by(e))?;
    }
    Ok(())
}

/// Creates the tss group and user, naming NOVA_TSS_* in errors about taken names or ids.
pub fn create_tss_user(user: &User, runner: &mut dyn Runner) -> Result<()> {
    crate::steps::user::create(user, runner).map_err(|e| {
        let what = e.what.replace("GID=", "NOVA_TSS_GID=").replace("UID=", "NOVA_TSS_UID=");
        let mut out = Error::new(what).hint(
            "set NOVA_TSS_UID and NOVA_TSS_GID to ids free in the base image (default 42434), or NOVA_TSS_USER to another name; they must differ from UID and GID",
        );
        out.cause = e.cause;
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn nova() -> NovaConfig {
        let env = [("PROJECT", "nova")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env(&env).unwrap().nova
    }

    #[test]
    fn vnc_auto_is_linked_to_vnc_lite_and_git_files_go() {
        let d = tempfile::tempdir().unwrap();
        let (novnc, spice) = (d.path().join("novnc"), d.path().join("spice"));
        std::fs::create_dir_all(novnc.join(".github/workflows")).unwrap();
        std::fs::write(novnc.join(".gitignore"), "x").unwrap();
        std::fs::write(novnc.join("vnc_lite.html"), "lite").unwrap();
        std::fs::create_dir_all(&spice).unwrap();
        std::fs::write(spice.join(".gitattributes"), "x").unwrap();
        std::fs::write(spice.join("spice_auto.html"), "spice").unwrap();
        finish_consoles(&novnc, &spice, &nova()).unwrap();
        assert_eq!(
            std::fs::read_link(novnc.join("vnc_auto.html")).unwrap(),
            PathBuf::from("vnc_lite.html")
        );
        assert_eq!(
            std::fs::read_to_string(novnc.join("vnc_auto.html")).unwrap(),
            "lite"
        );
        assert!(!novnc.join(".github").exists() && !novnc.join(".gitignore").exists());
        assert!(!spice.join(".gitattributes").exists());
        assert!(spice.join("spice_auto.html").exists());
        // Running again (a rebuilt layer) keeps the link.
        finish_consoles(&novnc, &spice, &nova()).unwrap();
    }

    #[test]
    fn an_existing_vnc_auto_is_kept() {
        let d = tempfile::tempdir().unwrap();
        let (novnc, spice) = (d.path().join("novnc"), d.path().join("spice"));
        std::fs::create_dir_all(&novnc).unwrap();
        std::fs::create_dir_all(&spice).unwrap();
        std::fs::write(novnc.join("vnc_auto.html"), "old novnc").unwrap();
        finish_consoles(&novnc, &spice, &nova()).unwrap();
        assert!(!std::fs::symlink_metadata(novnc.join("vnc_auto.html"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn a_tree_without_vnc_pages_names_novnc_repo_and_ref() {
        let d = tempfile::tempdir().unwrap();
        let (novnc, spice) = (d.path().join("novnc"), d.path().join("spice"));
        std::fs::create_dir_all(&novnc).unwrap();
        std::fs::create_dir_all(&spice).unwrap();
        let e = finish_consoles(&novnc, &spice, &nova())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("NOVNC_REPO=https://github.com/novnc/novnc at NOVNC_REF=v1.0.0"),
            "{e}"
        );
    }

    #[test]
    fn tss_user_follows_loci() {
        let u = tss_user(&nova());
        assert_eq!((u.name.as_str(), u.uid, u.gid), ("tss", 42434, 42434));
        assert_eq!(u.shell, "/usr/sbin/nologin");
        assert!(u.dirs.is_empty());
    }

    /// A runner that must not be called: the checks fail before any command.
    struct NoRun;
    impl Runner for NoRun {
        fn run(&mut self, cmd: &crate::plan::Cmd) -> Result<()> {
            panic!("unexpected {cmd}")
        }
        fn output(&mut self, cmd: &crate::plan::Cmd) -> Result<String> {
            panic!("unexpected {cmd}")
        }
        fn probe(&mut self, cmd: &crate::plan::Cmd) -> Result<String> {
            panic!("unexpected {cmd}")
        }
    }

    #[test]
    fn taken_tss_ids_name_the_nova_variables() {
        // gid 0 is root's group on every system.
        let mut n = nova();
        n.tss_gid = 0;
        let e = create_tss_user(&tss_user(&n), &mut NoRun)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("NOVA_TSS_GID=0 is already taken by group \"root\""),
            "{e}"
        );
        assert!(e.contains("set NOVA_TSS_UID and NOVA_TSS_GID"), "{e}");
    }
}
