//! horizon: LOCI's `project_specific/horizon/01_configure_horizon.sh`.
//!
//! 1. `manage.py` goes into the installed `openstack_dashboard` package (from the source tree;
//!    a standard one is written when the tree has none);
//! 2. the panels of every HORIZON_EXTRA_PANELS plugin that is installed are enabled by linking
//!    their `enabled/_[1-9]*.py` files, their `local/local_settings.d/*` files and their policy
//!    files into `openstack_dashboard`;
//! 3. `local_settings.py` is made from the example with `COMPRESS_OFFLINE = True` and
//!    `STATIC_ROOT = '/var/www/html/horizon'`;
//! 4. messages are compiled when gettext's `msgfmt` is present, then `collectstatic` and
//!    `compress` run with the venv's python, so the image serves pre-compressed assets;
//! 5. `/usr/local/share/openstack_dashboard` links to the package (a path that does not depend
//!    on the Python version), the secret key store and lock files made while compressing are
//!    removed, and `local/` is given to the horizon user (the WSGI app writes there).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Context, Error, Result};
use crate::plan::{Cmd, HorizonHook, PlanInput, Step};
use crate::runner::{self, Runner};

/// Where collectstatic and compress put the static files (LOCI's STATIC_ROOT).
pub const STATIC_ROOT: &str = "/var/www/html/horizon";
/// The version-independent path of the dashboard package.
pub const DASHBOARD_LINK: &str = "/usr/local/share/openstack_dashboard";
/// Where horizon looks for default policies.
pub const ETC_DIR: &str = "/etc/openstack-dashboard";
/// The Django settings used for every management command.
pub const SETTINGS: &str = "openstack_dashboard.settings";

pub const HOOK_CONFIGURE: &str =
    "manage.py, HORIZON_EXTRA_PANELS panels and policies, local_settings.py into openstack_dashboard";
pub const HOOK_COMPILEMESSAGES: &str =
    "compilemessages in openstack_dashboard when msgfmt is installed";
pub const HOOK_FINISH: &str = "link /usr/local/share/openstack_dashboard; remove lock files and the secret key store; local/ to the horizon user";

/// The standard Django entry point horizon ships, used when the source tree has none.
pub const MANAGE_PY: &str = r#"#!/usr/bin/env python3
# Written by loci: horizon's manage.py.
import os
import sys

from django.core.management import execute_from_command_line

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openstack_dashboard.settings")
    execute_from_command_line(sys.argv)
"#;

/// Where things are; the real image's paths in [`super::run`], a temporary tree in tests.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The venv's site-packages (`sysconfig.get_path('purelib')`).
    pub site_packages: PathBuf,
    /// horizon's source tree (`/tmp/horizon`).
    pub sources: PathBuf,
    pub dashboard_link: PathBuf,
    pub etc_dir: PathBuf,
}

impl Layout {
    pub fn dashboard(&self) -> PathBuf {
        self.site_packages.join("openstack_dashboard")
    }
}

/// `python -m django COMMAND` with the venv's python and horizon's settings.
pub fn django(input: &PlanInput, args: &[&str]) -> Cmd {
    Cmd::new(
        crate::steps::python::venv_bin(input, "python"),
        ["-m", "django"],
    )
    .args(args.iter().copied())
    .env("DJANGO_SETTINGS_MODULE", SETTINGS)
}

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let panels = &c.horizon.extra_panels;
    let step = Step::new(
        "project",
        format!(
            "horizon: panels of {}, local settings, static files compressed into {STATIC_ROOT}",
            if panels.is_empty() {
                "no plugin".to_string()
            } else {
                panels.join(" ")
            }
        ),
    )
    .action(HorizonHook::Configure {
        panels: panels.clone(),
    })
    .action(HorizonHook::CompileMessages)
    .run(django(input, &["collectstatic", "--clear", "--noinput"]))
    .run(django(input, &["compress", "--force"]))
    .action(HorizonHook::Finish {
        uid: c.uid,
        gid: c.gid,
    });
    Ok(Some(step))
}

impl std::fmt::Display for HorizonHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HorizonHook::Configure { .. } => HOOK_CONFIGURE,
            HorizonHook::CompileMessages => HOOK_COMPILEMESSAGES,
            HorizonHook::Finish { .. } => HOOK_FINISH,
        })
    }
}

/// Runs one of horizon's hooks.
pub fn run(hook: &HorizonHook, ctx: &mut runner::Context) -> Result<()> {
    let (config, runner) = (ctx.config, &mut *ctx.runner);
    match hook {
        HorizonHook::Configure { panels } => configure(&layout(config, runner)?, panels),
        HorizonHook::CompileMessages => compile_messages(config, runner),
        HorizonHook::Finish { uid, gid } => finish(&layout(config, runner)?, *uid, *gid),
    }
}

/// The venv's site-packages, as its python reports it.
pub fn site_packages(config: &Config, runner: &mut dyn Runner) -> Result<PathBuf> {
    let python = config.paths.venv.join("bin/python").display().to_string();
    let out = runner.output(&Cmd::new(
        python,
        [
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
    ))?;
    let dir = PathBuf::from(out.trim());
    if !dir.join("openstack_dashboard").is_dir() {
        return Err(Error::new(format!("openstack_dashboard is not installed in {}", dir.display()))
            .hint("the install step did not install horizon: check PROJECT_REPO (it must be horizon's repository)"));
    }
    Ok(dir)
}

/// The image's layout: the site-packages the venv's python reports, the source tree.
pub fn layout(config: &Config, runner: &mut dyn Runner) -> Result<Layout> {
    Ok(Layout {
        site_packages: site_packages(config, runner)?,
        sources: config.paths.sources_dir.join(&config.project),
        dashboard_link: DASHBOARD_LINK.into(),
        etc_dir: ETC_DIR.into(),
    })
}

/// Compiles the messages in openstack_dashboard, when gettext's msgfmt is installed.
pub fn compile_messages(config: &Config, runner: &mut dyn Runner) -> Result<()> {
    if which::which("msgfmt").is_err() {
        crate::say!("msgfmt (gettext) is not installed: translations are not compiled");
        return Ok(());
    }
    let l = layout(config, runner)?;
    let python = config.paths.venv.join("bin/python").display().to_string();
    runner.run(
        &Cmd::new(python, ["-m", "django", "compilemessages"])
            .env("DJANGO_SETTINGS_MODULE", SETTINGS)
            .cwd(l.dashboard()),
    )
}

/// Steps 1 to 3 of the module description.
pub fn configure(l: &Layout, panels: &[String]) -> Result<()> {
    let dash = l.dashboard();
    // 1. manage.py
    let manage = dash.join("manage.py");
    let from_source = l.sources.join("manage.py");
    if from_source.is_file() {
        std::fs::copy(&from_source, &manage).context(|| {
            format!(
                "cannot copy {} to {}",
                from_source.display(),
                manage.display()
            )
        })?;
    } else {
        crate::say!(
            "{} has no manage.py: writing the standard one",
            l.sources.display()
        );
        std::fs::write(&manage, MANAGE_PY)
            .context(|| format!("cannot write {}", manage.display()))?;
    }
    std::fs::set_permissions(&manage, std::fs::Permissions::from_mode(0o755))
        .context(|| format!("cannot make {} executable", manage.display()))?;

    // 2. panels, their settings and policies
    for panel in panels {
        let root = l.site_packages.join(panel);
        if !root.is_dir() {
            crate::say!("horizon plugin {panel} is not installed: skipped");
            continue;
        }
        let mut linked = 0;
        for enabled in ["enabled", "local/enabled"] {
            let dir = root.join(enabled);
            if dir.is_dir() {
                let files = matching(&dir, |n| {
                    n.starts_with('_')
                        && n.ends_with(".py")
                        && n[1..].starts_with(|c: char| ('1'..='9').contains(&c))
                })?;
                linked += files.len();
                link_all(&files, &dash.join("local/enabled"))?;
                break;
            }
        }
        let settings = root.join("local/local_settings.d");
        if settings.is_dir() {
            link_all(
                &matching(&settings, |_| true)?,
                &dash.join("local/local_settings.d"),
            )?;
        }
        let conf = root.join("conf");
        if conf.is_dir() {
            link_all(&matching(&conf, is_policy)?, &dash.join("conf"))?;
            let defaults = conf.join("default_policies");
            if defaults.is_dir() {
                link_all(
                    &matching(&defaults, is_policy)?,
                    &dash.join("conf/default_policies"),
                )?;
            }
        }
        crate::say!("horizon plugin {panel}: {linked} panel files enabled");
    }
    std::fs::create_dir_all(&l.etc_dir)
        .context(|| format!("cannot create {}", l.etc_dir.display()))?;
    replace_link(
        &dash.join("conf/default_policies"),
        &l.etc_dir.join("default_policies"),
    )?;

    // 3. local_settings.py
    let example = dash.join("local/local_settings.py.example");
    let mut text = std::fs::read_to_string(&example).map_err(|e| {
        Error::new(format!("cannot read {}", example.display()))
            .caused_by(e)
            .hint("horizon's source tree ships openstack_dashboard/local/local_settings.py.example: check PROJECT_REPO and PROJECT_REF")
    })?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "COMPRESS_OFFLINE = True\nSTATIC_ROOT = '{STATIC_ROOT}'\n"
    ));
    let settings = dash.join("local/local_settings.py");
    std::fs::write(&settings, text).context(|| format!("cannot write {}", settings.display()))
}

/// Step 5 of the module description.
pub fn finish(l: &Layout, uid: u32, gid: u32) -> Result<()> {
    let dash = l.dashboard();
    replace_link(&dash, &l.dashboard_link)?;
    let local = dash.join("local");
    let secret = local.join(".secret_key_store");
    match std::fs::remove_file(&secret) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::new(format!("cannot remove {}", secret.display())).caused_by(e))
        }
    }
    for lock in matching(&local, |n| n.ends_with(".lock"))? {
        std::fs::remove_file(&lock).context(|| format!("cannot remove {}", lock.display()))?;
    }
    for entry in walkdir::WalkDir::new(&local) {
        let entry = entry.context(|| format!("cannot read {}", local.display()))?;
        nix::unistd::fchownat(
            None,
            entry.path(),
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| {
            Error::new(format!(
                "cannot chown {} to {uid}:{gid}",
                entry.path().display()
            ))
            .caused_by(e)
        })?;
    }
    Ok(())
}

fn is_policy(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".json") || lower.ends_with(".yaml")
}

/// The files (and links) directly in `dir` whose name passes `keep`, sorted.
fn matching(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.context(|| format!("cannot list {}", dir.display()))?;
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if !is_dir && keep(&entry.file_name().to_string_lossy()) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Links every file into `dir` under its own name.
fn link_all(files: &[PathBuf], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    for f in files {
        replace_link(f, &dir.join(f.file_name().expect("a file name")))?;
    }
    Ok(())
}

/// `ln -sfn target link`.
fn replace_link(target: &Path, link: &Path) -> Result<()> {
    if let Ok(meta) = std::fs::symlink_metadata(link) {
        let removed = if meta.is_dir() {
            std::fs::remove_dir_all(link)
        } else {
            std::fs::remove_file(link)
        };
        removed.context(|| format!("cannot replace {}", link.display()))?;
    }
    std::os::unix::fs::symlink(target, link)
        .context(|| format!("cannot link {} to {}", link.display(), target.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// An installed horizon plus three plugins laid out the three ways plugins do it.
    fn tree() -> (tempfile::TempDir, Layout) {
        let d = tempfile::tempdir().unwrap();
        let site = d.path().join("site-packages");
        let dash = site.join("openstack_dashboard");
        write(
            &dash.join("local/local_settings.py.example"),
            "DEBUG = False",
        );
        write(&dash.join("local/enabled/_9030_profiler.py.example"), "");
        write(&dash.join("conf/keystone_policy.yaml"), "");
        write(&dash.join("conf/default_policies/keystone.yaml"), "");
        // heat: enabled/ plus policies in conf/ and conf/default_policies/
        write(
            &site.join("heat_dashboard/enabled/_1610_project_orchestration_panel.py"),
            "",
        );
        write(
            &site.join("heat_dashboard/enabled/_1620_project_stacks_panel.py"),
            "",
        );
        write(
            &site.join("heat_dashboard/enabled/_0000_not_a_panel.py"),
            "",
        );
        write(&site.join("heat_dashboard/enabled/__init__.py"), "");
        write(&site.join("heat_dashboard/conf/heat_policy.yaml"), "");
        write(&site.join("heat_dashboard/conf/README.txt"), "");
        write(
            &site.join("heat_dashboard/conf/default_policies/heat.yaml"),
            "",
        );
        // octavia: local/enabled/
        write(
            &site.join("octavia_dashboard/local/enabled/_1482_project_load_balancer_panel.py"),
            "",
        );
        // manila: enabled/ and local/local_settings.d/
        write(
            &site.join("manila_ui/local/enabled/_80_manila_admin_add_share_panel_group.py"),
            "",
        );
        write(
            &site.join("manila_ui/local/local_settings.d/_90_manila_shares.py"),
            "",
        );
        let sources = d.path().join("horizon");
        write(&sources.join("manage.py"), "# horizon's own manage.py\n");
        let l = Layout {
            site_packages: site,
            sources,
            dashboard_link: d.path().join("usr/local/share/openstack_dashboard"),
            etc_dir: d.path().join("etc/openstack-dashboard"),
        };
        (d, l)
    }

    fn panels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn link_target(p: &Path) -> PathBuf {
        std::fs::read_link(p).unwrap_or_else(|e| panic!("{} is not a link: {e}", p.display()))
    }

    #[test]
    fn configure_links_panels_settings_and_policies() {
        let (_d, l) = tree();
        let dash = l.dashboard();
        configure(
            &l,
            &panels(&[
                "heat_dashboard",
                "octavia_dashboard",
                "manila_ui",
                "watcher_dashboard",
            ]),
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(dash.join("manage.py")).unwrap(),
            "# horizon's own manage.py\n"
        );
        let enabled = dash.join("local/enabled");
        assert_eq!(
            link_target(&enabled.join("_1610_project_orchestration_panel.py")),
            l.site_packages
                .join("heat_dashboard/enabled/_1610_project_orchestration_panel.py")
        );
        assert!(enabled.join("_1620_project_stacks_panel.py").exists());
        assert!(!enabled.join("_0000_not_a_panel.py").exists());
        assert!(!enabled.join("__init__.py").exists());
        assert!(enabled
            .join("_1482_project_load_balancer_panel.py")
            .exists());
        assert!(enabled
            .join("_80_manila_admin_add_share_panel_group.py")
            .exists());
        assert!(dash
            .join("local/local_settings.d/_90_manila_shares.py")
            .exists());
        assert!(dash.join("conf/heat_policy.yaml").exists());
        assert!(!dash.join("conf/README.txt").exists());
        assert!(dash.join("conf/default_policies/heat.yaml").exists());
        assert!(dash.join("conf/default_policies/keystone.yaml").exists());
        assert_eq!(
            link_target(&l.etc_dir.join("default_policies")),
            dash.join("conf/default_policies")
        );
        let settings = std::fs::read_to_string(dash.join("local/local_settings.py")).unwrap();
        assert_eq!(
            settings,
            "DEBUG = False\nCOMPRESS_OFFLINE = True\nSTATIC_ROOT = '/var/www/html/horizon'\n"
        );
        // A second run (a retried build) replaces the links instead of failing.
        configure(&l, &panels(&["heat_dashboard"])).unwrap();
    }

    #[test]
    fn panels_not_listed_are_left_alone() {
        let (_d, l) = tree();
        configure(&l, &panels(&[])).unwrap();
        assert!(!l
            .dashboard()
            .join("local/enabled/_1610_project_orchestration_panel.py")
            .exists());
    }

    #[test]
    fn a_standard_manage_py_is_written_when_the_tree_has_none() {
        let (_d, l) = tree();
        std::fs::remove_file(l.sources.join("manage.py")).unwrap();
        configure(&l, &[]).unwrap();
        let manage = l.dashboard().join("manage.py");
        let text = std::fs::read_to_string(&manage).unwrap();
        assert!(
            text.contains("openstack_dashboard.settings")
                && text.contains("execute_from_command_line")
        );
        assert_eq!(
            std::fs::metadata(&manage).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }

    #[test]
    fn a_missing_settings_example_is_a_clear_error() {
        let (_d, l) = tree();
        std::fs::remove_file(l.dashboard().join("local/local_settings.py.example")).unwrap();
        let e = configure(&l, &[]).unwrap_err().to_string();
        assert!(
            e.contains("local_settings.py.example") && e.contains("PROJECT_REPO"),
            "{e}"
        );
    }

    #[test]
    fn finish_links_the_package_and_removes_secrets_and_locks() {
        let (_d, l) = tree();
        let local = l.dashboard().join("local");
        write(&local.join(".secret_key_store"), "secret");
        write(&local.join("_tmp_.secret_key_store.lock"), "");
        std::fs::create_dir_all(l.dashboard_link.parent().unwrap()).unwrap();
        let (uid, gid) = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        finish(&l, uid, gid).unwrap();
        assert_eq!(link_target(&l.dashboard_link), l.dashboard());
        assert!(l
            .dashboard_link
            .join("local/local_settings.py.example")
            .exists());
        assert!(!local.join(".secret_key_store").exists());
        assert!(!local.join("_tmp_.secret_key_store.lock").exists());
        assert!(local.join("local_settings.py.example").exists());
    }

    #[test]
    fn django_commands_use_the_venv_python_and_horizon_settings() {
        let env = [("PROJECT", "horizon")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = Config::from_env(&env).unwrap();
        let os = crate::os_release::OsRelease::parse(
            "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        );
        let distro = crate::distro::Distro::detect(&os, None, None).unwrap();
        let input = PlanInput::new(&config, &distro);
        let step = plan(&input).unwrap().unwrap();
        let cmds: Vec<String> = step
            .actions
            .iter()
            .filter_map(|a| match a {
                crate::plan::Action::Run { cmd } => Some(cmd.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(
            cmds,
            [
                "DJANGO_SETTINGS_MODULE=openstack_dashboard.settings /var/lib/openstack/bin/python -m django collectstatic --clear --noinput",
                "DJANGO_SETTINGS_MODULE=openstack_dashboard.settings /var/lib/openstack/bin/python -m django compress --force",
            ]
        );
        assert!(step.summary.contains("heat_dashboard"), "{}", step.summary);
    }
}
