//! Step `user`: the service's group and user, and the directories it owns.

use std::fmt;
use std::path::PathBuf;

use crate::config::SpecificProject;
use crate::error::{Error, Result};
use crate::plan::{Cmd, PlanInput, Step, User, UserAction};
use crate::runner::{Context, Runner};

/// Plans the PROJECT user: uid UID, gid GID, home /var/lib/PROJECT, nologin (nova: bash, for
/// instance migration over ssh), owning /etc, /var/log, /var/lib and /var/cache/PROJECT.
pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    if c.plugin {
        return Ok(None);
    }
    let p = &c.project;
    let shell = if c.specific == Some(SpecificProject::Nova) {
        "/bin/bash"
    } else {
        "/usr/sbin/nologin"
    };
    let user = User {
        name: p.clone(),
        uid: c.uid,
        gid: c.gid,
        home: PathBuf::from(format!("/var/lib/{p}")),
        shell: shell.into(),
        comment: format!("{p} user"),
        dirs: ["/etc", "/var/log", "/var/lib", "/var/cache"]
            .iter()
            .map(|d| PathBuf::from(format!("{d}/{p}")))
            .collect(),
    };
    Ok(Some(
        Step::new("user", format!("user {p} ({}:{})", c.uid, c.gid))
            .action(UserAction::CreateUser { user }),
    ))
}

impl fmt::Display for UserAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let UserAction::CreateUser { user } = self;
        write!(
            f,
            "create group {} ({}) and user {} ({}), home {}, shell {}; own {}",
            user.name,
            user.gid,
            user.name,
            user.uid,
            user.home.display(),
            user.shell,
            user.dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        )
    }
}

/// Runs one action of this module.
pub fn run(action: &UserAction, ctx: &mut Context) -> Result<()> {
    let UserAction::CreateUser { user } = action;
    create(user, ctx.runner)
}

/// Creates the group and user with groupadd/useradd after checking that the name and ids are
/// free (or already exactly as wanted), then creates and chowns the directories.
pub fn create(user: &User, runner: &mut dyn Runner) -> Result<()> {
    use nix::unistd::{Gid, Group, Uid, User as SysUser};
    let group = Group::from_gid(Gid::from_raw(user.gid)).ok().flatten();
    let mut created_group = false;
    match group {
        Some(g) if g.name != user.name => {
            return Err(Error::new(format!(
                "GID={} is already taken by group {:?}",
                user.gid, g.name
            ))
            .hint("pass a free GID, e.g. --build-arg GID=42425"))
        }
        Some(_) => {}
        None => {
            if let Some(g) = Group::from_name(&user.name).ok().flatten() {
                return Err(Error::new(format!(
                    "group {:?} already exists with gid {}, not GID={}",
                    user.name, g.gid, user.gid
                ))
                .hint("use a base image without that group, or pass its gid as GID"));
            }
            runner.run(&Cmd::new(
                "groupadd",
                ["-g".to_string(), user.gid.to_string(), user.name.clone()],
            ))?;
            created_group = true;
        }
    }
    match SysUser::from_uid(Uid::from_raw(user.uid)).ok().flatten() {
        Some(u) if u.name != user.name => {
            return Err(Error::new(format!(
                "UID={} is already taken by user {:?}",
                user.uid, u.name
            ))
            .hint("pass a free UID, e.g. --build-arg UID=42425"))
        }
        Some(_) => {}
        None => {
            if let Some(u) = SysUser::from_name(&user.name).ok().flatten() {
                return Err(Error::new(format!(
                    "user {:?} already exists with uid {}, not UID={}",
                    user.name, u.uid, user.uid
                ))
                .hint("use a base image without that user, or pass its uid as UID"));
            }
            let added = runner.run(&Cmd::new(
                "useradd",
                [
                    "-u".to_string(),
                    user.uid.to_string(),
                    "-g".into(),
                    user.name.clone(),
                    "-M".into(),
                    "-d".into(),
                    user.home.display().to_string(),
                    "-s".into(),
                    user.shell.clone(),
                    "-c".into(),
                    user.comment.clone(),
                    user.name.clone(),
                ],
            ));
            if let Err(e) = added {
                // Leave nothing half-done: the group was made for this user only.
                if created_group {
                    let _ = runner.run(&Cmd::new("groupdel", [user.name.clone()]));
                }
                return Err(e);
            }
        }
    }
    for dir in &user.dirs {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::new(format!("cannot create {}", dir.display())).caused_by(e))?;
        nix::unistd::chown(
            dir,
            Some(Uid::from_raw(user.uid)),
            Some(Gid::from_raw(user.gid)),
        )
        .map_err(|e| {
            Error::new(format!(
                "cannot chown {} to {}:{}",
                dir.display(),
                user.uid,
                user.gid
            ))
            .caused_by(e)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::RecordingRunner;

    fn user(name: &str, uid: u32, gid: u32) -> User {
        User {
            name: name.into(),
            uid,
            gid,
            home: format!("/var/lib/{name}").into(),
            shell: "/usr/sbin/nologin".into(),
            comment: format!("{name} user"),
            dirs: vec![],
        }
    }

    #[test]
    fn taken_ids_are_refused_before_anything_runs() {
        // uid/gid 0 belong to root on every system.
        let mut r = RecordingRunner::default();
        let e = create(&user("keystone-test-loci", 0, 42999), &mut r)
            .unwrap_err()
            .to_string();
        assert!(e.contains("UID=0 is already taken by user \"root\""), "{e}");
        assert!(r.commands.iter().all(|c| c.program != "useradd"));
        let mut r = RecordingRunner::default();
        let e = create(&user("keystone-test-loci", 42999, 0), &mut r)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GID=0 is already taken by group \"root\""),
            "{e}"
        );
        assert!(r.commands.is_empty());
    }

    #[test]
    fn free_ids_run_groupadd_and_useradd() {
        let mut r = RecordingRunner::default();
        create(&user("loci-free-test", 42997, 42998), &mut r).unwrap();
        let argv: Vec<String> = r.commands.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            argv,
            [
                "groupadd -g 42998 loci-free-test",
                "useradd -u 42997 -g loci-free-test -M -d /var/lib/loci-free-test -s /usr/sbin/nologin -c 'loci-free-test user' loci-free-test",
            ]
        );
    }
}
