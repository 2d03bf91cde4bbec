//! Which wheels a `pip wheel` built, read from its log, and moving the kept ones into the image
//! root (see "Which wheels are kept" in [`super`]).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::constraints::normalize;
use crate::error::{Error, Result};

/// Adds one `-v` per `-q` so that pip keeps printing at its default level.
pub fn balance_quiet(args: &[String]) -> Vec<String> {
    let mut level: i32 = 0;
    for a in args {
        match a.as_str() {
            "--quiet" => level -= 1,
            "--verbose" => level += 1,
            s if s.starts_with("-q") && s[1..].chars().all(|c| c == 'q') => {
                level -= (s.len() - 1) as i32
            }
            s if s.starts_with("-v") && s[1..].chars().all(|c| c == 'v') => {
                level += (s.len() - 1) as i32
            }
            _ => {}
        }
    }
    let mut out = args.to_vec();
    for _ in level..0 {
        out.push("-v".into());
    }
    out
}

/// Name and version of a wheel from its file name (`name-version(-build)?-py-abi-plat.whl`).
pub fn wheel_name_version(file: &str) -> Option<(String, String)> {
    let stem = file.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() != 5 && parts.len() != 6 {
        return None;
    }
    Some((parts[0].to_string(), parts[1].to_string()))
}

/// The files pip reports as built in its output (`Created wheel for X: filename=F size=...`).
pub fn built_wheels(log: &str) -> BTreeSet<String> {
    log.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("Created wheel for ")?;
            let f = rest.split_once("filename=")?.1;
            Some(f.split_whitespace().next()?.to_string())
        })
        .collect()
}

/// The projects pip reports as built in its summary line (`Successfully built a b`),
/// normalised: a second witness, should the `Created wheel` lines ever change.
pub fn built_projects(log: &str) -> BTreeSet<String> {
    log.lines()
        .filter_map(|l| l.trim().strip_prefix("Successfully built "))
        .flat_map(|rest| rest.split_whitespace().map(normalize))
        .collect()
}

/// Splits the wheels found after a build into (kept, dropped): everything is kept with
/// `keep_all`, else only what pip built.
pub fn select_wheels(found: &[String], log: &str, keep_all: bool) -> (Vec<String>, Vec<String>) {
    if keep_all {
        return (found.to_vec(), Vec::new());
    }
    let built = built_wheels(log);
    let projects = built_projects(log);
    found.iter().cloned().partition(|f| {
        built.contains(f)
            || wheel_name_version(f).is_some_and(|(n, _)| projects.contains(&normalize(&n)))
    })
}

/// Moves `file` from `dir` into `root` (replacing nothing that is there already).
pub(super) fn move_into(dir: &Path, file: &str, root: &Path) -> Result<()> {
    let from = dir.join(file);
    let to = root.join(file);
    if to.exists() {
        let _ = fs::remove_file(&from);
        return Ok(());
    }
    match fs::rename(&from, &to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(nix::libc::EXDEV) => {
            // Another file system (the bind-mounted data dir): copy under a name pip ignores,
            // then rename, so that concurrent builds never see half a wheel.
            let part = root.join(format!(".{file}.part"));
            if let Err(e) = fs::copy(&from, &part).and_then(|_| fs::rename(&part, &to)) {
                // Never half a wheel left behind, even under its hidden name.
                let _ = fs::remove_file(&part);
                let size = fs::metadata(&from).map(|m| m.len()).ok();
                return Err(crate::disk::write_error(&to, e, size));
            }
            let _ = fs::remove_file(&from);
            Ok(())
        }
        Err(e) => Err(Error::new(format!(
            "cannot move {} to {}",
            from.display(),
            to.display()
        ))
        .cause(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_file_names() {
        assert_eq!(
            wheel_name_version("oslo_config-10.3.0-py3-none-any.whl"),
            Some(("oslo_config".into(), "10.3.0".into()))
        );
        assert_eq!(
            wheel_name_version("uWSGI-2.0.28-1-cp311-cp311-linux_x86_64.whl"),
            Some(("uWSGI".into(), "2.0.28".into()))
        );
        assert_eq!(wheel_name_version("foo-1.0.tar.gz"), None);
        assert_eq!(wheel_name_version("foo-1.0.whl"), None);
    }

    #[test]
    fn wheels_are_moved_whole_and_never_replace_one_there() {
        let root = tempfile::tempdir().unwrap();
        // /dev/shm is another file system than /tmp on most hosts: the copy path.
        let shm = Path::new("/dev/shm");
        let src = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .unwrap();
        std::fs::write(src.path().join("a-1-py3-none-any.whl"), "new").unwrap();
        move_into(src.path(), "a-1-py3-none-any.whl", root.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.path().join("a-1-py3-none-any.whl")).unwrap(),
            "new"
        );
        assert_eq!(
            listing(root.path()),
            ["a-1-py3-none-any.whl"],
            "no .part left"
        );
        assert!(!src.path().join("a-1-py3-none-any.whl").exists());
        std::fs::write(src.path().join("a-1-py3-none-any.whl"), "second").unwrap();
        move_into(src.path(), "a-1-py3-none-any.whl", root.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.path().join("a-1-py3-none-any.whl")).unwrap(),
            "new"
        );
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn only_built_wheels_are_kept() {
        let log = "Collecting six===1.16.0\n  Downloading six-1.16.0-py2.py3-none-any.whl (11 kB)\n\
                   Saved ./w/six-1.16.0-py2.py3-none-any.whl\n\
                   Building wheels for collected packages: docopt\n  Building wheel for docopt (pyproject.toml): started\n\
                   \x20 Created wheel for docopt: filename=docopt-0.6.2-py2.py3-none-any.whl size=13704 sha256=abc\n\
                   \x20 Stored in directory: /tmp/x\nSuccessfully built docopt\n";
        let found = vec![
            "docopt-0.6.2-py2.py3-none-any.whl".to_string(),
            "six-1.16.0-py2.py3-none-any.whl".to_string(),
        ];
        let (kept, dropped) = select_wheels(&found, log, false);
        assert_eq!(kept, ["docopt-0.6.2-py2.py3-none-any.whl"]);
        assert_eq!(dropped, ["six-1.16.0-py2.py3-none-any.whl"]);
        let (kept, dropped) = select_wheels(&found, log, true);
        assert_eq!(kept, found);
        assert!(dropped.is_empty());
        // Without the `Created wheel` line, pip's summary line still tells.
        let summary_only = "Saved ./w/six-1.16.0-py2.py3-none-any.whl\nSuccessfully built docopt\n";
        let (kept, dropped) = select_wheels(&found, summary_only, false);
        assert_eq!(kept, ["docopt-0.6.2-py2.py3-none-any.whl"]);
        assert_eq!(dropped, ["six-1.16.0-py2.py3-none-any.whl"]);
        assert!(select_wheels(&found, "Saved x\n", false).0.is_empty());
    }

    #[test]
    fn quiet_is_balanced() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(balance_quiet(&s(&["--pre"])), s(&["--pre"]));
        assert_eq!(
            balance_quiet(&s(&["-qq", "--pre"])),
            s(&["-qq", "--pre", "-v", "-v"])
        );
        assert_eq!(balance_quiet(&s(&["--quiet", "-v"])), s(&["--quiet", "-v"]));
        assert_eq!(balance_quiet(&s(&["-vq"])), s(&["-vq"]));
    }
}
