//! Step `source`: the project's source tree at /tmp/PROJECT, cloned with libgit2.
//!
//! LOCI runs `git clone REPO; git fetch REPO REF; git checkout FETCH_HEAD`. loci fetches only
//! what it needs: the ref itself (a branch, a tag, or a Gerrit ref such as
//! `refs/changes/24/923324/10`) with the tags that point into its history, so that pbr can
//! still compute the version. A full commit id cannot be fetched by name from most servers,
//! so for one, every branch and tag is fetched and the commit looked up.

use std::fmt;
use std::path::Path;

use git2::{AutotagOption, FetchOptions, Oid, ProxyOptions, Repository};

use crate::config::TlsConfig;
use crate::error::{Error, Result};
use crate::plan::{PlanInput, SourceAction, Step};
use crate::runner::Context;

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let dest = c.paths.sources_dir.join(&c.project);
    Ok(Some(
        Step::new("source", format!("{} at {}", c.project_repo, c.project_ref)).action(
            SourceAction::GitClone {
                var: "PROJECT".into(),
                repo: c.project_repo.clone(),
                reference: c.project_ref.clone(),
                dest,
                shallow_no_git: false,
            },
        ),
    ))
}

impl fmt::Display for SourceAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SourceAction::GitClone {
            repo,
            reference,
            dest,
            shallow_no_git,
            ..
        } = self;
        write!(
            f,
            "git clone {repo} at {reference} -> {}{}",
            dest.display(),
            if *shallow_no_git {
                " (shallow, .git removed)"
            } else {
                " (unless it exists)"
            }
        )
    }
}

/// Runs one action of this module: the clone started early ([`start_early`]) is waited for,
/// any other is done now.
pub fn run(action: &SourceAction, ctx: &mut Context) -> Result<()> {
    let SourceAction::GitClone {
        var,
        repo,
        reference,
        dest,
        shallow_no_git,
    } = action;
    if let Some(early) = ctx.state.take_early_clone(dest) {
        let said = early.handle.join().map_err(|_| {
            Error::new(format!(
                "the clone of {repo} into {} panicked",
                dest.display()
            ))
        })??;
        crate::say!("{said}");
        return Ok(());
    }
    clone(var, repo, reference, dest, *shallow_no_git, &ctx.config.tls)
}

/// Starts the project's clone (the `source` step's) in a thread of its own when the first
/// step that changes the system starts (after `wheels` and `preflight` checked the inputs),
/// so that fetching and checking it out overlaps the package steps; the `source` step then
/// waits for it. The clone writes only the tree it creates (SOURCES_DIR/PROJECT, which
/// nothing before the `source` step reads or writes), the same bytes as when done at its
/// step. Not started when the tree is there already, or for an https URL before the image
/// has a CA bundle (the `base` step may be what installs ca-certificates): the clone then
/// runs at its step, as before.
pub fn start_early(plan: &crate::plan::Plan, tls: &TlsConfig, state: &mut crate::runner::State) {
    let Some(step) = plan.steps.iter().find(|s| s.name == "source") else {
        return;
    };
    for action in &step.actions {
        let crate::plan::Action::Source(SourceAction::GitClone {
            var,
            repo,
            reference,
            dest,
            shallow_no_git,
        }) = action
        else {
            continue;
        };
        if dest.exists() || (repo.starts_with("https://") && ca_bundle(tls).is_none()) {
            continue;
        }
        let (var, repo, reference, dest2, shallow, tls) = (
            var.clone(),
            repo.clone(),
            reference.clone(),
            dest.clone(),
            *shallow_no_git,
            tls.clone(),
        );
        let handle = std::thread::spawn(move || {
            configure_tls(&tls);
            let origin = Origin {
                var: &var,
                repo: &repo,
                reference: &reference,
            };
            let started = std::time::Instant::now();
            let result = clone_into(&origin, &dest2, shallow);
            if result.is_err() {
                let _ = std::fs::remove_dir_all(&dest2);
            }
            result.map(|said| {
                format!(
                    "{said} (in {}, while the steps before this one ran)",
                    crate::report::human(started.elapsed())
                )
            })
        });
        state.add_early_clone(dest.clone(), handle);
    }
}

/// After a failed step: waits for the clones started early that no step took, and removes
/// their trees, so that a failed build leaves no clone behind that a later build in the same
/// place would take for a seeded source tree.
pub fn abandon_early(state: &mut crate::runner::State) {
    for (dest, early) in state.take_early_clones() {
        let _ = early.handle.join();
        let _ = std::fs::remove_dir_all(&dest);
    }
}

/// The CA bundle libgit2 is pointed at: SSL_CERT_FILE, or the distro's.
fn ca_bundle(tls: &TlsConfig) -> Option<std::path::PathBuf> {
    tls.ssl_cert_file.clone().or_else(|| {
        [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/ca-bundle.pem",
        ]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
    })
}

/// Points libgit2 at the system CA bundle (or SSL_CERT_FILE): the vendored OpenSSL inside the
/// static binary does not know where the distro keeps it.
fn configure_tls(tls: &TlsConfig) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let file = ca_bundle(tls);
        let dir = tls.ssl_cert_dir.clone();
        if file.is_some() || dir.is_some() {
            // SAFETY: called once, before any other libgit2 use in this process.
            let _ = unsafe {
                match (&file, &dir) {
                    (Some(f), Some(d)) => git2::opts::set_ssl_cert_file(f)
                        .and_then(|_| git2::opts::set_ssl_cert_dir(d)),
                    (Some(f), None) => git2::opts::set_ssl_cert_file(f),
                    (None, Some(d)) => git2::opts::set_ssl_cert_dir(d),
                    (None, None) => Ok(()),
                }
            };
        }
    });
}

fn is_commit_id(reference: &str) -> bool {
    reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit())
}

/// Clones `repo` at `reference` into `dest`. An existing `dest` is used as it is (sources
/// pre-seeded through the data dir). On failure, a partly created `dest` is removed. `var` is
/// the prefix of the build arguments that named the source (`PROJECT` for PROJECT_REPO and
/// PROJECT_REF, `NOVNC`, `SPICE`), so that errors point at what to change.
pub fn clone(
    var: &str,
    repo: &str,
    reference: &str,
    dest: &Path,
    shallow_no_git: bool,
    tls: &TlsConfig,
) -> Result<()> {
    if dest.exists() {
        crate::say!("{} exists: using the sources found there", dest.display());
        return Ok(());
    }
    configure_tls(tls);
    let origin = Origin {
        var,
        repo,
        reference,
    };
    let result = clone_into(&origin, dest, shallow_no_git);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(dest);
    }
    crate::say!("{}", result?);
    Ok(())
}

fn fetch_options<'a>(depth: Option<i32>) -> FetchOptions<'a> {
    let mut proxy = ProxyOptions::new();
    proxy.auto();
    let mut fo = FetchOptions::new();
    fo.proxy_options(proxy);
    fo.download_tags(AutotagOption::Auto);
    if let Some(d) = depth {
        fo.depth(d);
    }
    fo
}

/// A source as its build arguments named it: `var` is their prefix (`PROJECT` for
/// PROJECT_REPO and PROJECT_REF, `NOVNC`, `SPICE`), so that errors point at what to change.
struct Origin<'a> {
    var: &'a str,
    repo: &'a str,
    reference: &'a str,
}

impl Origin<'_> {
    /// `VAR_REF=... does not exist in VAR_REPO=...`, for the caller to give a cause and hint.
    fn missing_ref(&self) -> Error {
        let Origin {
            var,
            repo,
            reference,
        } = self;
        Error::new(format!(
            "{var}_REF={reference} does not exist in {var}_REPO={repo}"
        ))
    }

    /// Explains a libgit2 failure: a ref the server does not have, or a fetch that failed.
    fn git_error(&self, e: git2::Error) -> Error {
        let msg = e.message().to_string();
        let lower = msg.to_ascii_lowercase();
        if lower.contains("couldn't find remote ref")
            || lower.contains("not our ref")
            || lower.contains("no such remote ref")
            || lower.contains("not found")
                && !lower.contains("repository not found")
                && e.class() != git2::ErrorClass::Http
        {
            self.missing_ref().cause(msg).hint(
                "check the branch, tag, commit id or Gerrit ref (refs/changes/NN/CHANGE/PATCHSET)",
            )
        } else {
            Error::new(format!(
                "cannot fetch {} from {}_REPO={}",
                self.reference, self.var, self.repo
            ))
            .cause(msg)
            .hint("check that the repository URL is right and reachable from the build (proxy settings, --network host)")
        }
    }
}

/// Finds the full name of `reference` among the refs the server advertises: as given when it
/// starts with `refs/`, else as a branch, then as a tag.
fn resolve_ref(remote: &mut git2::Remote, origin: &Origin) -> Result<(String, Oid)> {
    let reference = origin.reference;
    let mut proxy = ProxyOptions::new();
    proxy.auto();
    remote
        .connect_auth(git2::Direction::Fetch, None, Some(proxy))
        .map_err(|e| origin.git_error(e))?;
    let heads: Vec<(String, Oid)> = remote
        .list()
        .map_err(|e| origin.git_error(e))?
        .iter()
        .map(|h| (h.name().to_string(), h.oid()))
        .collect();
    let _ = remote.disconnect();
    let candidates = if reference.starts_with("refs/") {
        vec![reference.to_string()]
    } else {
        vec![
            format!("refs/heads/{reference}"),
            format!("refs/tags/{reference}"),
        ]
    };
    candidates
        .into_iter()
        .find_map(|c| heads.iter().find(|(n, _)| *n == c).cloned())
        .ok_or_else(|| {
            origin
                .missing_ref()
                .cause(format!("the repository has no branch, tag or ref named {reference}"))
                .hint("check the branch, tag, full 40-character commit id or Gerrit ref (refs/changes/NN/CHANGE/PATCHSET)")
        })
}

/// Clones into `dest` and says what it checked out (for the caller to print: an early clone
/// runs in a thread of its own while another step writes the log).
fn clone_into(origin: &Origin, dest: &Path, shallow: bool) -> Result<String> {
    let Origin {
        var,
        repo: repo_url,
        reference,
    } = *origin;
    let repo = Repository::init(dest).map_err(|e| {
        Error::new(format!(
            "cannot create a git repository at {}",
            dest.display()
        ))
        .caused_by(e)
    })?;
    let mut remote = repo.remote_anonymous(repo_url).map_err(|e| {
        Error::new(format!("{var}_REPO={repo_url} is not a usable git URL")).caused_by(e)
    })?;
    let oid: Oid = if is_commit_id(reference) {
        let mut fo = fetch_options(None);
        remote
            .fetch(
                &[
                    "+refs/heads/*:refs/remotes/origin/*",
                    "+refs/tags/*:refs/tags/*",
                ],
                Some(&mut fo),
                None,
            )
            .map_err(|e| origin.git_error(e))?;
        let oid = Oid::from_str(reference).expect("checked hex");
        if repo.find_commit(oid).is_err() {
            // Servers that allow it can serve any reachable commit by id.
            let mut fo = fetch_options(None);
            remote
                .fetch(&[reference], Some(&mut fo), None)
                .map_err(|e| origin.git_error(e))?;
            repo.find_commit(oid).map_err(|e| origin.git_error(e))?;
        }
        oid
    } else {
        let (full, advertised) = resolve_ref(&mut remote, origin)?;
        let refspec = full;
        let mut fo = fetch_options(if shallow { Some(1) } else { None });
        let fetched = remote.fetch(&[refspec.as_str()], Some(&mut fo), None);
        if let Err(e) = fetched {
            // Not every transport can fetch shallow (file://): fall back to a full fetch.
            if !(shallow && e.message().contains("shallow")) {
                return Err(origin.git_error(e));
            }
            let mut fo = fetch_options(None);
            remote
                .fetch(&[refspec.as_str()], Some(&mut fo), None)
                .map_err(|e| origin.git_error(e))?;
        }
        // The advertised id may be an annotated tag: peel it to its commit.
        let commit = repo
            .find_object(advertised, None)
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| origin.git_error(e))?;
        commit.id()
    };
    {
        let commit = repo.find_commit(oid).map_err(|e| origin.git_error(e))?;
        repo.checkout_tree(
            commit.as_object(),
            Some(git2::build::CheckoutBuilder::new().force()),
        )
        .map_err(|e| {
            Error::new(format!(
                "cannot check out {reference} into {}",
                dest.display()
            ))
            .caused_by(e)
        })?;
    }
    repo.set_head_detached(oid)
        .map_err(|e| Error::new(format!("cannot set HEAD to {oid}")).caused_by(e))?;
    let said = format!("checked out {reference} ({oid}) into {}", dest.display());
    drop(remote);
    drop(repo);
    if shallow {
        std::fs::remove_dir_all(dest.join(".git")).map_err(|e| {
            Error::new(format!("cannot remove {}/.git", dest.display())).caused_by(e)
        })?;
    }
    Ok(said)
}

/// `git log -1` of a source tree, as LOCI records it in project.txt.
pub fn describe_head(dir: &Path) -> Option<String> {
    let repo = Repository::open(dir).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    let author = commit.author();
    let time = author.when();
    Some(format!(
        "commit {}\nAuthor: {} <{}>\nDate:   {} {}{:02}{:02}\n\n{}",
        commit.id(),
        author.name().unwrap_or(""),
        author.email().unwrap_or(""),
        time.seconds(),
        if time.offset_minutes() < 0 { '-' } else { '+' },
        time.offset_minutes().abs() / 60,
        time.offset_minutes().abs() % 60,
        commit
            .message()
            .unwrap_or("")
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A real repository with two commits, a tag, a branch and a Gerrit-style change ref,
    /// served through the file:// transport.
    fn fixture() -> (tempfile::TempDir, String, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let git = |args: &[&str]| {
            let out = Command::new("git")
                .args(args)
                .current_dir(&src)
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        std::fs::create_dir_all(&src).unwrap();
        git(&["init", "-q", "-b", "master"]);
        std::fs::write(src.join("a.txt"), "one\n").unwrap();
        git(&["add", "a.txt"]);
        git(&["commit", "-q", "-m", "first"]);
        git(&["tag", "1.0.0"]);
        let first = git(&["rev-parse", "HEAD"]);
        std::fs::write(src.join("a.txt"), "two\n").unwrap();
        git(&["commit", "-q", "-am", "second"]);
        let second = git(&["rev-parse", "HEAD"]);
        git(&["checkout", "-q", "-b", "change", &first]);
        std::fs::write(src.join("a.txt"), "change\n").unwrap();
        git(&["commit", "-q", "-am", "proposed change"]);
        git(&["update-ref", "refs/changes/24/923324/10", "HEAD"]);
        git(&["checkout", "-q", "master"]);
        let url = format!("file://{}", src.display());
        (dir, url, first, second)
    }

    #[test]
    fn clones_branch_tag_commit_and_gerrit_ref() {
        let (dir, url, first, _second) = fixture();
        let tls = TlsConfig::default();
        for (reference, want) in [
            ("master", "two\n"),
            ("1.0.0", "one\n"),
            (first.as_str(), "one\n"),
            ("refs/changes/24/923324/10", "change\n"),
        ] {
            let dest = dir
                .path()
                .join(format!("out-{}", reference.replace('/', "_")));
            clone("PROJECT", &url, reference, &dest, false, &tls).unwrap();
            assert_eq!(
                std::fs::read_to_string(dest.join("a.txt")).unwrap(),
                want,
                "{reference}"
            );
            assert!(describe_head(&dest).unwrap().starts_with("commit "));
        }
    }

    #[test]
    fn tags_come_along_for_pbr() {
        let (dir, url, _, _) = fixture();
        let dest = dir.path().join("tags");
        clone(
            "PROJECT",
            &url,
            "master",
            &dest,
            false,
            &TlsConfig::default(),
        )
        .unwrap();
        let repo = Repository::open(&dest).unwrap();
        assert!(repo.find_reference("refs/tags/1.0.0").is_ok());
    }

    #[test]
    fn shallow_clone_removes_git_dir() {
        let (dir, url, _, _) = fixture();
        let dest = dir.path().join("shallow");
        clone("PROJECT", &url, "1.0.0", &dest, true, &TlsConfig::default()).unwrap();
        assert!(!dest.join(".git").exists());
        assert_eq!(
            std::fs::read_to_string(dest.join("a.txt")).unwrap(),
            "one\n"
        );
    }

    #[test]
    fn missing_ref_names_repo_and_ref_and_leaves_nothing() {
        let (dir, url, _, _) = fixture();
        let dest = dir.path().join("missing");
        let e = clone(
            "PROJECT",
            &url,
            "no-such-branch",
            &dest,
            false,
            &TlsConfig::default(),
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("PROJECT_REF=no-such-branch does not exist in PROJECT_REPO=file://"),
            "{s}"
        );
        assert!(!dest.exists());
    }

    #[test]
    fn errors_name_the_build_arguments_of_the_source() {
        let (dir, url, _, _) = fixture();
        let dest = dir.path().join("novnc");
        let e = clone("NOVNC", &url, "v9.9.9", &dest, true, &TlsConfig::default()).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("NOVNC_REF=v9.9.9 does not exist in NOVNC_REPO=file://"),
            "{s}"
        );
        assert!(!dest.exists());
    }

    #[test]
    fn unreachable_repo_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("x");
        // Port 9 on loopback: nothing listens there.
        let e = clone(
            "PROJECT",
            "git://127.0.0.1:9/nothing",
            "master",
            &dest,
            false,
            &TlsConfig::default(),
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("cannot fetch master from PROJECT_REPO=git://127.0.0.1:9/nothing"),
            "{s}"
        );
        assert!(!dest.exists());
    }

    fn bookworm() -> crate::distro::Distro {
        let os = crate::os_release::OsRelease::parse(
            "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        );
        crate::distro::Distro::detect(&os, None, None).unwrap()
    }

    /// Starts the clone of `action` early as the executor does, then runs the `source` step's
    /// action with the same state.
    fn early_then_step(action: &SourceAction) -> (Result<()>, Vec<crate::plan::Cmd>) {
        let distro = bookworm();
        let plan = crate::plan::Plan {
            project: "keystone".into(),
            stage: crate::plan::Stage::Project,
            distro: distro.clone(),
            steps: vec![Step::new("source", "the project").action(action.clone())],
        };
        let mut state = crate::runner::State::default();
        start_early(&plan, &TlsConfig::default(), &mut state);
        let mut runner = crate::runner::RecordingRunner::default();
        let result = crate::runner::with_test_context(&distro, &mut runner, &mut state, |ctx| {
            run(action, ctx)
        });
        (result, runner.commands)
    }

    fn clone_action(url: &str, reference: &str, dest: &Path) -> SourceAction {
        SourceAction::GitClone {
            var: "PROJECT".into(),
            repo: url.into(),
            reference: reference.into(),
            dest: dest.to_path_buf(),
            shallow_no_git: false,
        }
    }

    #[test]
    fn an_early_clone_is_the_trees_clone_done_before_its_step() {
        let (dir, url, first, _) = fixture();
        let early = dir.path().join("early");
        let (result, commands) = early_then_step(&clone_action(&url, "1.0.0", &early));
        result.unwrap();
        assert!(commands.is_empty(), "{commands:?}");
        // The same tree, HEAD and tags as a clone at the step.
        let late = dir.path().join("late");
        clone(
            "PROJECT",
            &url,
            "1.0.0",
            &late,
            false,
            &TlsConfig::default(),
        )
        .unwrap();
        for d in [&early, &late] {
            assert_eq!(std::fs::read_to_string(d.join("a.txt")).unwrap(), "one\n");
            let repo = Repository::open(d).unwrap();
            assert_eq!(
                repo.head()
                    .unwrap()
                    .peel_to_commit()
                    .unwrap()
                    .id()
                    .to_string(),
                first
            );
            assert!(repo.find_reference("refs/tags/1.0.0").is_ok());
        }
        assert_eq!(describe_head(&early), describe_head(&late));
    }

    #[test]
    fn an_early_clone_that_fails_fails_its_step_and_leaves_nothing() {
        let (dir, url, _, _) = fixture();
        let dest = dir.path().join("missing");
        let (result, _) = early_then_step(&clone_action(&url, "no-such-tag", &dest));
        let s = result.unwrap_err().to_string();
        assert!(
            s.contains("PROJECT_REF=no-such-tag does not exist in PROJECT_REPO=file://"),
            "{s}"
        );
        assert!(!dest.exists());
    }

    #[test]
    fn a_failed_build_leaves_no_early_clone_behind() {
        let (dir, url, _, _) = fixture();
        let dest = dir.path().join("abandoned");
        let plan = crate::plan::Plan {
            project: "keystone".into(),
            stage: crate::plan::Stage::Project,
            distro: bookworm(),
            steps: vec![Step::new("source", "s").action(clone_action(&url, "1.0.0", &dest))],
        };
        let mut state = crate::runner::State::default();
        start_early(&plan, &TlsConfig::default(), &mut state);
        abandon_early(&mut state);
        assert!(!dest.exists());
        assert!(state.take_early_clone(&dest).is_none());
    }

    #[test]
    fn no_early_clone_of_a_tree_that_is_there() {
        let (dir, url, _, _) = fixture();
        let dest = dir.path().join("seeded");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("setup.py"), "").unwrap();
        let plan = crate::plan::Plan {
            project: "keystone".into(),
            stage: crate::plan::Stage::Project,
            distro: bookworm(),
            steps: vec![Step::new("source", "s").action(clone_action(&url, "1.0.0", &dest))],
        };
        let mut state = crate::runner::State::default();
        start_early(&plan, &TlsConfig::default(), &mut state);
        assert!(state.take_early_clone(&dest).is_none());
        assert!(!dest.join("a.txt").exists());
    }

    #[test]
    fn existing_sources_are_used_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("keystone");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("setup.py"), "").unwrap();
        clone(
            "PROJECT",
            "git://127.0.0.1:9/nothing",
            "master",
            &dest,
            false,
            &TlsConfig::default(),
        )
        .unwrap();
        assert!(dest.join("setup.py").exists());
    }
}
