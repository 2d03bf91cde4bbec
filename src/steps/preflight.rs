//! Step `preflight`: every distro package the build will install exists in the distro's
//! package index, checked before the first change to the system.
//!
//! The names come from the plan itself — every [`crate::plan::PackagesAction::Install`] of every step: the
//! base packages, bindep's (bindep.txt and the EXTRA_BINDEP files, for PROJECT, PROFILES and
//! the release), DIST_PACKAGES, and what a project-specific step installs. Each keeps where it
//! came from (the argument, or the bindep file and line), so that a name the index does not
//! know fails the build naming the package, the distro and its origin, before anything is
//! installed or any user created.
//!
//! Packages already installed need no lookup; when every one is, nothing runs. Otherwise the
//! index is refreshed (the build's one refresh, which the installs then skip) and asked once
//! for all the others: `apt-cache policy NAMES` (a virtual package such as bookworm's
//! `mysql-client` has no candidate: not installable either) or `dnf repoquery --whatprovides`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::distro::{Distro, PackageManager};
use crate::error::{Error, Result};
use crate::plan::{Action, Cmd, PackagesAction, PlanInput, PreflightAction, Step, Wanted};
use crate::runner::Context;

impl fmt::Display for PreflightAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let PreflightAction::CheckPackages { packages, refresh } = self;
        write!(
            f,
            "look up in the package index those of these {} packages not installed yet",
            packages.len()
        )?;
        if let Some(r) = refresh {
            write!(f, " (after `{r}`, the build's one refresh)")?;
        }
        let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        write!(f, ": {}", names.join(" "))
    }
}

/// Runs one action of this module.
pub fn run(action: &PreflightAction, ctx: &mut Context) -> Result<()> {
    let PreflightAction::CheckPackages { packages, refresh } = action;
    check(ctx, packages, refresh.as_ref())
}

/// Adds the `preflight` step before the first step that changes the system (any but `wheels`,
/// which only fetches into the data dir), when the build installs any package.
pub fn insert(input: &PlanInput, steps: &mut Vec<Step>) -> Result<()> {
    let wanted = wanted(steps, input)?;
    if wanted.is_empty() {
        return Ok(());
    }
    let at = steps
        .iter()
        .position(|s| s.name != "wheels")
        .unwrap_or(steps.len());
    let mut step = Step::new(
        "preflight",
        format!(
            "every package of the build is in {}'s package index",
            input.distro.label()
        ),
    );
    step = step.action(PreflightAction::CheckPackages {
        packages: wanted,
        refresh: input.distro.refresh_cmd(),
    });
    steps.insert(at, step);
    Ok(())
}

/// Every package the steps install, in order, once, with its origin. Local files (a `.deb`
/// path) are not looked up.
pub fn wanted(steps: &[Step], input: &PlanInput) -> Result<Vec<Wanted>> {
    let mut origins: BTreeMap<String, String> = BTreeMap::new();
    for (name, origin) in super::packages::bindep_packages_with_origins(input)? {
        origins.entry(name).or_insert(origin);
    }
    for p in &input.config.dist_packages {
        origins
            .entry(p.clone())
            .or_insert_with(|| "DIST_PACKAGES".into());
    }
    let own = format!("loci's base packages for {}", input.distro.label());
    let mut out: Vec<Wanted> = Vec::new();
    for step in steps {
        for action in &step.actions {
            let Action::Packages(PackagesAction::Install { packages, .. }) = action else {
                continue;
            };
            for p in packages {
                if p.starts_with('/') || out.iter().any(|w| w.name == *p) {
                    continue;
                }
                let origin = match step.name {
                    "base" => own.clone(),
                    // git, installed with the project's packages unless bindep or
                    // DIST_PACKAGES asked for it, is loci's, as it was in `base`.
                    "packages" => origins.get(p).cloned().unwrap_or_else(|| {
                        if input.distro.build_tools().contains(p) {
                            own.clone()
                        } else {
                            "the packages step".into()
                        }
                    }),
                    other => format!("the {other} step ({})", step.summary),
                };
                out.push(Wanted {
                    name: p.clone(),
                    origin,
                });
            }
        }
    }
    Ok(out)
}

/// The name a package is looked up by: without apt's `=VERSION` or `/RELEASE` suffix.
pub fn lookup_name(package: &str) -> &str {
    package.split(['=', '/']).next().unwrap_or(package)
}

/// Why a package cannot be installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// The index does not know the name at all.
    Unknown,
    /// apt knows the name, but nothing installable has it: a virtual package without a
    /// provider, or one whose versions are all gone (`Candidate: (none)`).
    NoCandidate,
}

/// The packages of `names` that `apt-cache policy` answers without a candidate, or not at all.
pub fn apt_unavailable(names: &[String], policy: &str) -> Vec<(String, Missing)> {
    let mut candidates: BTreeMap<String, bool> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in policy.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            // `name:` (or `name:arch:` for another architecture)
            let header = line.trim_end_matches(':');
            current = Some(header.split(':').next().unwrap_or(header).to_string());
        } else if let (Some(name), Some(v)) = (&current, line.trim().strip_prefix("Candidate:")) {
            candidates.insert(name.clone(), v.trim() != "(none)");
        }
    }
    names
        .iter()
        .filter_map(|n| {
            let key = lookup_name(n);
            let key = key.split(':').next().unwrap_or(key);
            match candidates.get(key) {
                Some(true) => None,
                Some(false) => Some((n.clone(), Missing::NoCandidate)),
                None => Some((n.clone(), Missing::Unknown)),
            }
        })
        .collect()
}

/// The packages of `names` that no package in `dnf repoquery`'s answer (names and provides,
/// one a line, `cap = version` or `cap`) provides.
pub fn dnf_unavailable(names: &[String], answer: &str) -> Vec<(String, Missing)> {
    // dnf 4 and 5 differ in whether `\n` in a query format is expanded: take both.
    let answer = answer.replace("\\n", "\n");
    let provided: BTreeSet<&str> = answer
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    names
        .iter()
        .filter(|n| !provided.contains(lookup_name(n)))
        .map(|n| (n.clone(), Missing::Unknown))
        .collect()
}

/// Names other than these are not looked up: group and module specs, files.
fn checkable(name: &str) -> bool {
    !(name.starts_with('@') || name.starts_with('/') || name.contains('*'))
}

/// Known renames between releases, for hints: (distro id, name, name there).
pub const RENAMES: &[(&str, &str, &str)] = &[
    ("debian", "mysql-client", "default-mysql-client"),
    ("debian", "mysql-server", "default-mysql-server"),
    ("debian", "libmysqlclient-dev", "default-libmysqlclient-dev"),
    ("debian", "libmariadbclient-dev", "libmariadb-dev"),
    ("debian", "libldap2-dev", "libldap-dev"),
    ("ubuntu", "default-libmysqlclient-dev", "libmysqlclient-dev"),
];

/// [`crate::plan::PreflightAction::CheckPackages`]: looks up every package of `wanted` that is not installed yet.
pub fn check(ctx: &mut Context, wanted: &[Wanted], refresh: Option<&Cmd>) -> Result<()> {
    let distro = &ctx.plan.distro;
    let names: Vec<String> = wanted.iter().map(|w| w.name.clone()).collect();
    let missing = super::packages::not_installed(ctx.runner, distro, &names)?;
    let lookup: Vec<String> = missing.into_iter().filter(|n| checkable(n)).collect();
    if lookup.is_empty() {
        crate::say!(
            "all {} packages of the build are installed: nothing to look up",
            names.len()
        );
        return Ok(());
    }
    let Some(query) = distro.index_query_cmd(&lookup) else {
        crate::say!(
            "warning: {} package names are not checked: {} has no query of its package index ({:?})",
            lookup.len(),
            distro.label(),
            distro.package_manager
        );
        return Ok(());
    };
    super::packages::refresh_once(ctx.runner, ctx.state, refresh)?;
    let answer = ctx.runner.probe(&query)?;
    let unavailable = match distro.package_manager {
        PackageManager::Apt => apt_unavailable(&lookup, &answer),
        PackageManager::Dnf | PackageManager::Yum => dnf_unavailable(&lookup, &answer),
    };
    if unavailable.is_empty() {
        crate::say!(
            "{} packages to install, all in {}'s package index ({} installed already)",
            lookup.len(),
            distro.label(),
            names.len() - lookup.len()
        );
        return Ok(());
    }
    Err(unavailable_error(distro, wanted, &unavailable))
}

/// The error naming every package that cannot be installed, with its origin and a hint.
pub fn unavailable_error(
    distro: &Distro,
    wanted: &[Wanted],
    unavailable: &[(String, Missing)],
) -> Error {
    let origin = |name: &str| {
        wanted
            .iter()
            .find(|w| w.name == name)
            .map(|w| w.origin.as_str())
            .unwrap_or("?")
    };
    let list: Vec<String> = unavailable
        .iter()
        .map(|(n, _)| format!("{n} (from {})", origin(n)))
        .collect();
    let mut cause = String::new();
    for (name, why) in unavailable {
        let why = match why {
            Missing::Unknown => "not in the package index",
            Missing::NoCandidate => {
                "a name the index knows, but no installable package has it (a virtual package: `apt-cache policy` shows no candidate)"
            }
        };
        cause.push_str(&format!("{name} (from {}): {why}\n", origin(name)));
    }
    let renames: Vec<String> = unavailable
        .iter()
        .filter_map(|(n, _)| {
            RENAMES
                .iter()
                .find(|(id, from, _)| *id == distro.id && from == n)
                .map(|(_, from, to)| format!("{from} is {to} on {}", distro.id))
        })
        .collect();
    let mut hint = String::new();
    if !renames.is_empty() {
        hint.push_str(&format!("{}; ", renames.join(", ")));
    }
    hint.push_str(&format!(
        "use the name this release has (`{}` lists the candidates): fix DIST_PACKAGES, or the bindep line (limit it with [platform:...]); a package from another repository (Ceph, RDO, EPEL) needs that repository in the base image",
        match distro.package_manager {
            PackageManager::Apt => "apt-cache search NAME",
            PackageManager::Dnf | PackageManager::Yum => "dnf search NAME",
        }
    ));
    Error::new(format!(
        "{} cannot be installed on {}: {}",
        if unavailable.len() == 1 {
            "a package".to_string()
        } else {
            format!("{} packages", unavailable.len())
        },
        distro.label(),
        list.join(", ")
    ))
    .cause(cause)
    .hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os_release::OsRelease;
    use crate::runner::{Runner, State};

    /// [`super::check`] in a context of `distro`, `runner` and `state`.
    fn check(
        distro: &Distro,
        wanted: &[Wanted],
        refresh: Option<&Cmd>,
        runner: &mut dyn Runner,
        state: &mut State,
    ) -> Result<()> {
        crate::runner::with_test_context(distro, runner, state, |ctx| {
            super::check(ctx, wanted, refresh)
        })
    }

    const BOOKWORM: &str = "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n";
    const ROCKY: &str = "ID=rocky\nVERSION_ID=\"9.4\"\nID_LIKE=\"rhel centos fedora\"\n";

    /// `apt-cache policy mysql-client default-mysql-client curl nosuchpkg` on bookworm (the
    /// unknown name prints nothing; `curl` is installed).
    const POLICY: &str = "mysql-client:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n\
default-mysql-client:\n  Installed: (none)\n  Candidate: 1.1.0\n  Version table:\n     1.1.0 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n\
curl:\n  Installed: 7.88.1-10+deb12u8\n  Candidate: 7.88.1-10+deb12u8\n  Version table:\n *** 7.88.1-10+deb12u8 500\n";

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn wanted(v: &[(&str, &str)]) -> Vec<Wanted> {
        v.iter()
            .map(|(n, o)| Wanted {
                name: n.to_string(),
                origin: o.to_string(),
            })
            .collect()
    }

    #[test]
    fn apt_policy_tells_virtual_and_unknown_names_from_real_ones() {
        let got = apt_unavailable(
            &names(&[
                "mysql-client",
                "default-mysql-client",
                "curl",
                "nosuchpkg",
                "curl=7.88.1-10+deb12u8",
                "default-mysql-client/bookworm",
            ]),
            POLICY,
        );
        assert_eq!(
            got,
            [
                ("mysql-client".to_string(), Missing::NoCandidate),
                ("nosuchpkg".to_string(), Missing::Unknown)
            ]
        );
        // Another architecture's header.
        let got = apt_unavailable(
            &names(&["libc6:i386"]),
            "libc6:i386:\n  Installed: (none)\n  Candidate: 2.36-9\n",
        );
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn dnf_provides_count_as_the_package() {
        // dnf 4 expands `\n` in the query format, dnf 5 may print it literally.
        let answer = "httpd\nhttpd = 2.4.57-11.el9\nhttpd(x86-64) = 2.4.57-11.el9\nwebserver\\npython3-mod_wsgi\npython3-mod_wsgi = 4.7.1\n";
        let got = dnf_unavailable(
            &names(&["httpd", "webserver", "python3-mod_wsgi", "libvirt0"]),
            answer,
        );
        assert_eq!(got, [("libvirt0".to_string(), Missing::Unknown)]);
    }

    #[test]
    fn the_check_refreshes_once_queries_once_and_names_origin_distro_and_hint() {
        let distro = Distro::detect(&OsRelease::parse(BOOKWORM), None, None).unwrap();
        let w = wanted(&[
            ("curl", "DIST_PACKAGES"),
            ("mysql-client", "DIST_PACKAGES"),
            ("libfoo9", "/opt/loci/bindep.txt:57"),
        ]);
        let mut runner = crate::runner::RecordingRunner {
            // What both probes answer: dpkg-query's (curl installed) and apt-cache's.
            answer: format!("curl installed\n{POLICY}"),
            ..Default::default()
        };
        let mut state = State::default();
        let refresh = distro.refresh_cmd();
        let e = check(&distro, &w, refresh.as_ref(), &mut runner, &mut state).unwrap_err();
        let argv: Vec<String> = runner
            .commands
            .iter()
            .map(|c| format!("{} {}", c.program, c.args.join(" ")))
            .collect();
        assert_eq!(
            argv,
            [
                "dpkg-query --show --showformat=${Package} ${db:Status-Status}\\n curl mysql-client libfoo9",
                "apt-get update",
                "apt-cache policy mysql-client libfoo9",
            ]
        );
        assert!(state.index_refreshed, "the installs skip their refresh");
        let s = e.to_string();
        assert!(
            s.contains("2 packages cannot be installed on debian-bookworm: mysql-client (from DIST_PACKAGES), libfoo9 (from /opt/loci/bindep.txt:57)"),
            "{s}"
        );
        assert!(s.contains("a virtual package"), "{s}");
        assert!(
            s.contains("libfoo9 (from /opt/loci/bindep.txt:57): not in the package index"),
            "{s}"
        );
        let hint = e.hint.unwrap();
        assert!(
            hint.starts_with("mysql-client is default-mysql-client on debian; "),
            "{hint}"
        );
        assert!(hint.contains("apt-cache search NAME"), "{hint}");
    }

    #[test]
    fn nothing_is_looked_up_when_everything_is_installed() {
        let distro = Distro::detect(&OsRelease::parse(BOOKWORM), None, None).unwrap();
        let w = wanted(&[("curl", "DIST_PACKAGES"), ("sudo", "loci's base packages")]);
        let mut runner = crate::runner::RecordingRunner {
            answer: "curl installed\nsudo installed\n".into(),
            ..Default::default()
        };
        let mut state = State::default();
        check(
            &distro,
            &w,
            distro.refresh_cmd().as_ref(),
            &mut runner,
            &mut state,
        )
        .unwrap();
        assert_eq!(runner.commands.len(), 1, "only the installed query");
        assert!(!state.index_refreshed);
    }

    #[test]
    fn dnf_looks_up_what_provides_the_names() {
        let distro = Distro::detect(&OsRelease::parse(ROCKY), None, Some(true)).unwrap();
        let w = wanted(&[("httpd", "bindep.txt:45"), ("libvirt0", "DIST_PACKAGES")]);
        let mut runner = crate::runner::RecordingRunner {
            answer: "httpd\nhttpd = 2.4.57\n".into(),
            ..Default::default()
        };
        let mut state = State::default();
        let e = check(
            &distro,
            &w,
            distro.refresh_cmd().as_ref(),
            &mut runner,
            &mut state,
        )
        .unwrap_err()
        .to_string();
        let query = runner.commands.last().unwrap();
        assert_eq!(query.program, "dnf");
        assert_eq!(query.args[0], "repoquery");
        assert_eq!(query.args.last().unwrap(), "httpd,libvirt0");
        assert!(
            e.contains("a package cannot be installed on rocky-9.4: libvirt0 (from DIST_PACKAGES)"),
            "{e}"
        );
        assert!(e.contains("dnf search NAME"), "{e}");
    }

    #[test]
    fn yum_says_it_cannot_check() {
        let distro = Distro::detect(&OsRelease::parse(ROCKY), None, Some(false)).unwrap();
        let mut runner = crate::runner::RecordingRunner::default();
        let mut state = State::default();
        check(
            &distro,
            &wanted(&[("httpd", "x")]),
            None,
            &mut runner,
            &mut state,
        )
        .unwrap();
        assert_eq!(runner.commands.len(), 1, "no lookup without a query");
    }

    #[test]
    fn lookup_names_drop_versions_and_releases() {
        assert_eq!(lookup_name("curl=7.88"), "curl");
        assert_eq!(lookup_name("nginx/bookworm-backports"), "nginx");
        assert_eq!(lookup_name("jq"), "jq");
    }
}
