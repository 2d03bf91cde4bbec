//! Step `packages`: the system packages bindep.txt (and every /opt/loci/bindep* extra) asks
//! for, for PROJECT + PROFILES + the release codename, plus DIST_PACKAGES.

use std::fmt;

use crate::bindep::{BindepFile, Platform};
use crate::error::Result;
use crate::plan::{Action, PackagesAction, PlanInput, Stage, Step};
use crate::runner::Context;

/// The packages the bindep files resolve to for this build, in file order, without duplicates.
///
/// The builder stage of a build without wheels also gets the `requirements` profile: the
/// compilers and -dev packages that the sdists are built with.
pub fn bindep_packages(input: &PlanInput) -> Result<Vec<String>> {
    Ok(bindep_packages_with_origins(input)?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// [`bindep_packages`], each with where it came from: `FILE:LINE` of its bindep line.
pub fn bindep_packages_with_origins(input: &PlanInput) -> Result<Vec<(String, String)>> {
    let c = input.config;
    let mut profiles = vec![c.project.clone()];
    profiles.extend(c.profiles.iter().cloned());
    if input.stage == Stage::Builder && super::python::from_index(input) {
        profiles.push("requirements".into());
    }
    if let Some(codename) = &input.distro.codename {
        profiles.push(codename.clone());
    }
    resolve_with_origins(&input.bindep_files, &platform(input), &profiles)
}

/// The bindep platform of the distro, with DISTRO's override applied to the id.
pub fn platform(input: &PlanInput) -> Platform {
    let mut os = input.distro.os_release.clone();
    os.id = input.distro.id.clone();
    Platform::from_os_release(&os)
}

/// Evaluates every file for `profiles` and concatenates the results, dropping repeats.
pub fn resolve(
    files: &[(String, String)],
    platform: &Platform,
    profiles: &[String],
) -> Result<Vec<String>> {
    Ok(resolve_with_origins(files, platform, profiles)?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// [`resolve`], each package with the `FILE:LINE` of the first line that asked for it.
pub fn resolve_with_origins(
    files: &[(String, String)],
    platform: &Platform,
    profiles: &[String],
) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, text) in files {
        let file = BindepFile::parse(name, text)?;
        for rule in file.active_rules(platform, profiles) {
            if !out.iter().any(|(p, _)| *p == rule.name) {
                out.push((rule.name.clone(), format!("{name}:{}", rule.line)));
            }
        }
    }
    Ok(out)
}

/// The packages bindep and DIST_PACKAGES ask for, in that order, once each: what the
/// `packages` step installs (and git with them, see [`super::base::add_git_to_packages`]).
pub fn project_packages(input: &PlanInput) -> Result<Vec<String>> {
    let mut packages = bindep_packages(input)?;
    for p in &input.config.dist_packages {
        if !packages.contains(p) {
            packages.push(p.clone());
        }
    }
    Ok(packages)
}

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let packages = project_packages(input)?;
    let listed = (input.stage == Stage::Runtime).then(|| PackagesAction::InstallListed {
        file: super::libraries::list_file(c),
        refresh: input.distro.refresh_cmd(),
    });
    if packages.is_empty() && listed.is_none() {
        return Ok(None);
    }
    let mut step = Step::new("packages", "system packages from bindep and DIST_PACKAGES");
    if !packages.is_empty() {
        step = step.action(install_action(input.distro, &packages));
    }
    if let Some(listed) = listed {
        step.summary
            .push_str(", and those providing the venv's shared libraries");
        step = step.action(listed);
    }
    step.packages = packages;
    Ok(Some(step))
}

/// The install action for `packages`: refresh (once per build) and install, skipped for
/// packages already installed.
pub fn install_action(distro: &crate::distro::Distro, packages: &[String]) -> Action {
    Action::Packages(PackagesAction::Install {
        packages: packages.to_vec(),
        refresh: distro.refresh_cmd(),
        install: distro.install_cmd(packages),
    })
}

impl fmt::Display for PackagesAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackagesAction::Install {
                refresh, install, ..
            } => {
                write!(f, "install what is missing: ")?;
                if let Some(r) = refresh {
                    write!(f, "{r} && ")?;
                }
                write!(f, "{install}")
            }
            PackagesAction::Purge { purge, .. } => write!(f, "purge what is installed of: {purge}"),
            PackagesAction::PurgeInstalledHere { purge, .. } => {
                write!(f, "purge what this build installed of: {purge}")
            }
            PackagesAction::InstallListed { file, .. } => {
                write!(
                    f,
                    "install what is missing of the packages listed in {}",
                    file.display()
                )
            }
        }
    }
}

/// Runs one action of this module.
pub fn run(action: &PackagesAction, ctx: &mut Context) -> Result<()> {
    match action {
        PackagesAction::Install {
            packages, refresh, ..
        } => install(ctx, packages, refresh.as_ref()),
        PackagesAction::Purge { packages, .. } => purge(ctx, packages),
        PackagesAction::PurgeInstalledHere { packages, .. } => {
            let here: Vec<String> = packages
                .iter()
                .filter(|p| ctx.state.installed_here.contains(p))
                .cloned()
                .collect();
            if here.is_empty() {
                crate::say!(
                    "this build installed none of {}: nothing to purge",
                    packages.join(" ")
                );
                return Ok(());
            }
            purge(ctx, &here)
        }
        PackagesAction::InstallListed { file, refresh } => {
            let packages = super::libraries::read_list(file)?;
            if packages.is_empty() {
                crate::say!("the venv needs no shared library from a package");
                return Ok(());
            }
            install(ctx, &packages, refresh.as_ref())
        }
    }
}

/// Installs the packages of `packages` that are not installed yet. The package index is
/// refreshed before the first install of the build; when everything is present, neither runs
/// (over a prebuilt base that saves the slowest part of a build).
pub fn install(
    ctx: &mut crate::runner::Context,
    packages: &[String],
    refresh: Option<&crate::plan::Cmd>,
) -> Result<()> {
    let distro = &ctx.plan.distro;
    let missing = not_installed(ctx.runner, distro, packages)?;
    let present: Vec<String> = packages
        .iter()
        .filter(|p| !missing.contains(p))
        .cloned()
        .collect();
    mark_manual(ctx.runner, distro, &present)?;
    if missing.is_empty() {
        crate::say!("all {} packages are installed already", packages.len());
        return Ok(());
    }
    if missing.len() < packages.len() {
        crate::say!(
            "{} of {} packages are installed already",
            packages.len() - missing.len(),
            packages.len()
        );
    }
    refresh_once(ctx.runner, ctx.state, refresh)?;
    ctx.runner.run(&distro.install_cmd(&missing))?;
    ctx.state.installed_here.extend(missing);
    Ok(())
}

/// Marks those of `present` (requested and installed already) that the package manager holds
/// as installed automatically as installed on purpose, as LOCI's `apt-get install` of them does:
/// a package the base pulled in as a dependency stays when the cleanup's (or a child image's)
/// autoremove runs. Reads apt's marks from [`Distro::auto_marks`] (a missing file: no marks);
/// runs `apt-mark manual` only when one is automatic; nothing on rpm distros.
///
/// [`Distro::auto_marks`]: crate::distro::Distro::auto_marks
pub fn mark_manual(
    runner: &mut dyn crate::runner::Runner,
    distro: &crate::distro::Distro,
    present: &[String],
) -> Result<()> {
    let Some(file) = distro.auto_marks.as_ref().filter(|_| !present.is_empty()) else {
        return Ok(());
    };
    let marks = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(crate::error::Error::new(format!(
                "cannot read which packages apt installed as dependencies ({})",
                file.display()
            ))
            .caused_by(e)
            .hint("the file belongs to apt; check the base image's /var/lib/apt"))
        }
    };
    let auto = automatic(present, &marks);
    let Some(mark) = distro.mark_manual_cmd(&auto).filter(|_| !auto.is_empty()) else {
        return Ok(());
    };
    crate::say!(
        "installed as dependencies only, now marked as requested: {}",
        auto.join(" ")
    );
    runner.run(&mark)
}

/// The packages of `present` (names, possibly `NAME:ARCH`) that apt's extended_states (`marks`:
/// deb822 stanzas) holds as `Auto-Installed: 1`, in `present`'s order. Compared by name, as
/// `apt-mark showauto NAME` answers for every architecture of NAME.
pub fn automatic(present: &[String], marks: &str) -> Vec<String> {
    let mut auto = std::collections::HashSet::new();
    for stanza in marks.split("\n\n") {
        let mut name = None;
        let mut automatic = false;
        for line in stanza.lines() {
            if let Some((key, value)) = line.split_once(':') {
                match key.trim() {
                    "Package" => name = Some(value.trim()),
                    "Auto-Installed" => automatic = value.trim() == "1",
                    _ => {}
                }
            }
        }
        if let (Some(name), true) = (name, automatic) {
            auto.insert(name);
        }
    }
    let name_of = |p: &str| {
        p.split_once(':')
            .map_or(p, |(name, _arch)| name)
            .to_string()
    };
    present
        .iter()
        .filter(|p| auto.contains(name_of(p).as_str()))
        .cloned()
        .collect()
}

/// Purges those of `packages` that are installed; runs nothing when none is.
pub fn purge(ctx: &mut crate::runner::Context, packages: &[String]) -> Result<()> {
    let distro = &ctx.plan.distro;
    let missing = not_installed(ctx.runner, distro, packages)?;
    let installed: Vec<String> = packages
        .iter()
        .filter(|p| !missing.contains(p))
        .cloned()
        .collect();
    if installed.is_empty() {
        crate::say!("none of {} is installed", packages.join(" "));
        return Ok(());
    }
    ctx.runner.run(&distro.purge_cmd(&installed))
}

/// The packages of `packages` the package database does not list as installed.
pub fn not_installed(
    runner: &mut dyn crate::runner::Runner,
    distro: &crate::distro::Distro,
    packages: &[String],
) -> Result<Vec<String>> {
    let answer = runner.probe(&distro.query_installed_cmd(packages))?;
    Ok(missing_packages(packages, &answer))
}

/// Refreshes the package index with `refresh`, unless the build did already.
pub fn refresh_once(
    runner: &mut dyn crate::runner::Runner,
    state: &mut crate::runner::State,
    refresh: Option<&crate::plan::Cmd>,
) -> Result<()> {
    if let (Some(refresh), false) = (refresh, state.index_refreshed) {
        runner.run(refresh)?;
        state.index_refreshed = true;
    }
    Ok(())
}

/// The packages the query answer does not list as installed (`NAME installed` lines).
pub fn missing_packages(packages: &[String], answer: &str) -> Vec<String> {
    let installed: std::collections::HashSet<&str> = answer
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            match (it.next(), it.next()) {
                (Some(name), Some("installed")) => Some(name),
                _ => None,
            }
        })
        .collect();
    packages
        .iter()
        .filter(|p| !installed.contains(p.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_packages_reads_dpkg_and_rpm_answers() {
        let want: Vec<String> = ["git", "patch", "sudo", "libz-dev"]
            .map(String::from)
            .to_vec();
        let dpkg = "git installed\npatch not-installed\nsudo installed\n";
        assert_eq!(missing_packages(&want, dpkg), ["patch", "libz-dev"]);
        let rpm = "git installed\npackage patch is not installed\nsudo installed\n";
        assert_eq!(missing_packages(&want, rpm), ["patch", "libz-dev"]);
    }

    #[test]
    fn nothing_missing_runs_only_the_query_and_says_so() {
        let marks = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            marks.path(),
            "Package: git\nArchitecture: amd64\nAuto-Installed: 0\n",
        )
        .unwrap();
        let mut distro = bookworm();
        distro.auto_marks = Some(marks.path().to_path_buf());
        let mut runner = crate::runner::RecordingRunner {
            answer: "git installed\npatch installed\n".into(),
            ..Default::default()
        };
        let mut state = crate::runner::State::default();
        let want = ["git".to_string(), "patch".to_string()];
        let refresh = distro.refresh_cmd();
        let (done, lines) = crate::report::capture(|| {
            crate::runner::with_test_context(&distro, &mut runner, &mut state, |ctx| {
                install(ctx, &want, refresh.as_ref())
            })
        });
        done.unwrap();
        assert_eq!(lines, ["all 2 packages are installed already"]);
        let programs: Vec<_> = runner.commands.iter().map(|c| c.program.as_str()).collect();
        assert_eq!(programs, ["dpkg-query"], "{:?}", runner.commands);
        assert!(!state.index_refreshed);
    }

    fn bookworm() -> crate::distro::Distro {
        let os = crate::os_release::OsRelease::parse(
            "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        );
        crate::distro::Distro::detect(&os, None, None).unwrap()
    }

    /// apt's extended_states as bookworm writes it: the marks of packages of two
    /// architectures, one stanza marked 0 (apt keeps those too), others not asked for.
    const MARKS: &str = "Package: libldap-2.5-0\nArchitecture: amd64\nAuto-Installed: 1\n\n\
        Package: zlib1g\nArchitecture: arm64\nAuto-Installed: 1\n\n\
        Package: git\nArchitecture: amd64\nAuto-Installed: 0\n\n\
        Package: libc6\nArchitecture: amd64\nAuto-Installed: 1\n";

    #[test]
    fn automatic_reads_apts_extended_states() {
        let present: Vec<String> = ["git", "libldap-2.5-0", "zlib1g:arm64", "curl"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            automatic(&present, MARKS),
            ["libldap-2.5-0", "zlib1g:arm64"]
        );
        assert!(automatic(&present, "").is_empty());
    }

    /// A requested package present only as a dependency is marked as requested (LOCI's
    /// `apt-get install` marks it), the missing ones are installed, and nothing else is marked.
    #[test]
    fn a_present_automatic_package_is_marked_manual() {
        let marks = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(marks.path(), MARKS).unwrap();
        let mut distro = bookworm();
        distro.auto_marks = Some(marks.path().to_path_buf());
        // dpkg-query lists git and libldap-2.5-0 as installed; apt's marks libldap-2.5-0 as
        // automatic.
        let mut runner = crate::runner::RecordingRunner {
            answer: "git installed\nlibldap-2.5-0 installed\n".into(),
            ..Default::default()
        };
        let mut state = crate::runner::State::default();
        let want = ["git", "libldap-2.5-0", "patch"].map(String::from);
        let (done, lines) = crate::report::capture(|| {
            crate::runner::with_test_context(&distro, &mut runner, &mut state, |ctx| {
                install(ctx, &want, None)
            })
        });
        done.unwrap();
        let argv: Vec<String> = runner
            .commands
            .iter()
            .map(|c| format!("{} {}", c.program, c.args.join(" ")))
            .collect();
        assert_eq!(argv[1], "apt-mark manual libldap-2.5-0", "{argv:?}");
        assert!(argv[2].ends_with(" patch"), "{argv:?}");
        assert_eq!(argv.len(), 3, "{argv:?}");
        assert!(
            lines.contains(
                &"installed as dependencies only, now marked as requested: libldap-2.5-0"
                    .to_string()
            ),
            "{lines:?}"
        );
    }

    #[test]
    fn nothing_present_asks_nothing_and_rpm_distros_have_no_marks() {
        let mut runner = crate::runner::RecordingRunner::default();
        mark_manual(&mut runner, &bookworm(), &[]).unwrap();
        assert!(runner.commands.is_empty(), "{:?}", runner.commands);
        let os = crate::os_release::OsRelease::parse("ID=rocky\nVERSION_ID=\"9.4\"\n");
        let rocky = crate::distro::Distro::detect(&os, None, None).unwrap();
        mark_manual(&mut runner, &rocky, &["git".to_string()]).unwrap();
        assert!(runner.commands.is_empty(), "{:?}", runner.commands);
        // No extended_states (apt has marked nothing yet): nothing is automatic.
        let dir = tempfile::tempdir().unwrap();
        let mut distro = bookworm();
        distro.auto_marks = Some(dir.path().join("extended_states"));
        mark_manual(&mut runner, &distro, &["git".to_string()]).unwrap();
        assert!(runner.commands.is_empty(), "{:?}", runner.commands);
        // One that cannot be read: an error naming it, before any change.
        distro.auto_marks = Some(dir.path().to_path_buf());
        let err = mark_manual(&mut runner, &distro, &["git".to_string()]).unwrap_err();
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
        assert!(runner.commands.is_empty(), "{:?}", runner.commands);
    }
}
