//! `loci bindep`: a drop-in for the `bindep` command (2.14), same stdout and exit codes.
//!
//! - `-l newline|csv`: every package active for the profiles (default `default`) plus the
//!   platform profiles; exit 0.
//! - `--profiles`: "Platform profiles:" and, when a file was named with `-f`, "Configuration
//!   profiles:"; exit 0 (also when the file cannot be read, like bindep).
//! - otherwise: checks which active packages are missing (dpkg-query / rpm, like bindep); `-b`
//!   prints only their names; exit 1 when something is missing or has a bad version.
//!
//! A file that cannot be read exits 1, a syntax error exits 2, both with the message on stderr.
//! Like bindep's `--file` (argparse `store`), only the last `-f` counts.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{version, BindepFile, PackageDb, Platform};
use crate::error::{Error, Result};
use crate::os_release::OsRelease;
use crate::process::{self, Captured, ChildEnv, Cmd};

/// Flags of `loci bindep`, as bindep spells them.
#[derive(Debug, Clone, clap::Args)]
pub struct BindepArgs {
    /// Package list file (default: bindep.txt or other-requirements.txt); the last one counts.
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// List only missing packages, one per line.
    #[arg(short = 'b', long = "brief")]
    pub brief: bool,
    /// List all dependencies for the platform, in the given format.
    #[arg(short = 'l', long = "list_all", value_parser = ["newline", "csv"])]
    pub list_all: Option<String>,
    /// List the platform and configuration profiles.
    #[arg(long = "profiles")]
    pub profiles: bool,
    /// Evaluate for the distro in this os-release file instead of /etc/os-release.
    #[arg(long = "os-release", value_name = "FILE")]
    pub os_release: Option<PathBuf>,
    /// Profiles to evaluate (default: `default`).
    pub profile: Vec<String>,
}

/// The platform of this host, or of `--os-release FILE`.
fn platform(args: &BindepArgs) -> Result<Platform> {
    if let Some(path) = &args.os_release {
        return Ok(Platform::from_os_release(&OsRelease::from_file_any(path)?));
    }
    // distro reads /etc/os-release, else /usr/lib/os-release
    let os = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| OsRelease::parse(&t))
        .unwrap_or_default();
    let debian_version = std::fs::read_to_string("/etc/debian_version").ok();
    Ok(Platform::from_os_release_with(
        &os,
        debian_version.as_deref(),
    ))
}

/// `get_depends_file`: the file text and the name bindep keeps (`""` when found by default,
/// which hides the configuration profiles), or `None` after printing bindep's error.
fn read_depends(file: Option<&Path>) -> Result<Option<(String, String)>> {
    let decode = |name: &str, bytes: Vec<u8>| {
        String::from_utf8(bytes).map_err(|e| {
            Error::new(format!("{name}: cannot decode the file"))
                .cause(e)
                .hint("bindep files must be UTF-8 text")
        })
    };
    match file {
        Some(p) if p.as_os_str() == "-" => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| Error::new("cannot read the bindep file from stdin").cause(e))?;
            Ok(Some((decode("<stdin>", bytes)?, "-".into())))
        }
        Some(p) if !p.as_os_str().is_empty() => match std::fs::read(p) {
            Ok(bytes) => Ok(Some((
                decode(&p.display().to_string(), bytes)?,
                p.display().to_string(),
            ))),
            Err(_) => {
                crate::report::write_stderr(&format!("Error reading file {}.\n", p.display()));
                Ok(None)
            }
        },
        _ => {
            let bindep = Path::new("bindep.txt");
            let other = Path::new("other-requirements.txt");
            let chosen = match (bindep.is_file(), other.is_file()) {
                (true, true) => {
                    crate::report::write_stderr(
                        "Both bindep.txt and other-requirements.txt files exist, choose one.\n",
                    );
                    return Ok(None);
                }
                (true, false) => bindep,
                (false, true) => other,
                (false, false) => {
                    crate::report::write_stderr(
                        "Neither file bindep.txt nor file other-requirements.txt exist.\n",
                    );
                    return Ok(None);
                }
            };
            match std::fs::read(chosen) {
                Ok(bytes) => Ok(Some((
                    decode(&chosen.display().to_string(), bytes)?,
                    String::new(),
                ))),
                Err(_) => {
                    crate::report::write_stderr(&format!(
                        "Error reading file {}.\n",
                        chosen.display()
                    ));
                    Ok(None)
                }
            }
        }
    }
}

/// Runs `loci bindep`; returns the process exit code.
pub fn run(args: &BindepArgs) -> Result<i32> {
    let file = args.files.last().map(PathBuf::as_path);
    let (depends, filename) = match read_depends(file)? {
        Some((text, name)) => {
            let shown = if name.is_empty() {
                "bindep.txt".to_string()
            } else {
                name.clone()
            };
            match BindepFile::parse(&shown, &text) {
                Ok(f) => (f, Some(name)),
                Err(e) => {
                    crate::report::write_stderr(&format!("Requirements parsing error: {e}\n"));
                    return Ok(2);
                }
            }
        }
        None if args.profiles => (BindepFile::parse("", "")?, None),
        None => return Ok(1),
    };
    let platform = platform(args)?;
    let mut out = String::new();

    if args.profiles {
        out.push_str("Platform profiles:\n");
        if let Some(e) = &platform.error {
            emit(&out)?;
            return Err(Error::new(e.clone()).hint("pass --os-release FILE"));
        }
        for p in &platform.profiles {
            out.push_str(p);
            out.push('\n');
        }
        if filename.is_some_and(|f| !f.is_empty()) {
            out.push_str("\nConfiguration profiles:\n");
            for p in depends.profiles() {
                out.push_str(&p);
                out.push('\n');
            }
        }
        emit(&out)?;
        return Ok(0);
    }

    if let Some(e) = &platform.error {
        return Err(Error::new(e.clone()).hint("pass --os-release FILE"));
    }
    let rules = depends.active_rules(&platform, &args.profile);

    if let Some(format) = &args.list_all {
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        out.push_str(&names.join(if format == "csv" { "," } else { "\n" }));
        out.push('\n');
        emit(&out)?;
        return Ok(0);
    }

    // check_rules
    let mut missing = BTreeSet::new();
    let mut incompatible = Vec::new();
    for rule in &rules {
        let installed = installed_version(platform.package_db, &rule.name)?;
        let Some(installed) = installed.filter(|v| !v.is_empty()) else {
            missing.insert(rule.name.as_str());
            continue;
        };
        for c in &rule.versions {
            let ok = version::eval(&installed, &c.op, &c.version).map_err(|e| {
                Error::new(format!(
                    "{}: cannot compare versions of {}",
                    depends.name, rule.name
                ))
                .cause(e)
            })?;
            if !ok {
                incompatible.push((
                    rule.name.as_str(),
                    format!("{}{}", c.op, c.version),
                    installed.clone(),
                ));
            }
        }
    }
    let missing_empty = missing.is_empty();
    if !missing_empty {
        let missing: Vec<&str> = missing.into_iter().collect();
        if args.brief {
            out.push_str(&missing.join("\n"));
            out.push('\n');
        } else {
            out.push_str("Missing packages:\n    ");
            out.push_str(&missing.join(" "));
            out.push('\n');
        }
    }
    if !incompatible.is_empty() && !args.brief {
        out.push_str("Bad versions of installed packages:\n");
        for (pkg, constraint, version) in &incompatible {
            out.push_str(&format!(
                "    {pkg} version {version} does not match {constraint}\n"
            ));
        }
    }
    emit(&out)?;
    let failed = !missing_empty || !incompatible.is_empty();
    Ok(i32::from(failed))
}

fn emit(text: &str) -> Result<()> {
    crate::report::write_stdout(text)
}

/// Output of a query command: exit code and stdout followed by stderr (bindep merges them).
fn query(argv: &[&str]) -> Result<(i32, String)> {
    let out = spawn(argv)?;
    let mut text = out.stdout;
    text.push_str(&out.stderr);
    Ok((out.status.code().unwrap_or(-1), text))
}

/// Runs a package query with loci's one child environment policy ([`crate::process`]).
fn spawn(argv: &[&str]) -> Result<Captured> {
    let cmd = Cmd::new(argv[0], argv[1..].iter().copied());
    process::capture(&ChildEnv::default(), &cmd).map_err(|e| {
        Error::new(format!("cannot run {}", argv[0])).cause(e).hint(
            "checking installed packages needs the distro's package manager; use -l to only list",
        )
    })
}

fn query_failed(argv: &[&str], code: i32, output: &str) -> Error {
    Error::new(format!("`{}` failed with exit code {code}", argv.join(" "))).cause(output.trim())
}

fn field(output: &str, sep: Option<char>, index: usize, argv: &[&str]) -> Result<String> {
    let trimmed = output.trim();
    let parts: Vec<&str> = match sep {
        Some(c) => trimmed.split(c).collect(),
        None => trimmed.split_whitespace().collect(),
    };
    parts.get(index).map(|s| s.to_string()).ok_or_else(|| {
        Error::new(format!("unexpected output from `{}`", argv.join(" "))).cause(trimmed)
    })
}

/// `Platform.get_pkg_version`: the installed version, `None` when not installed.
fn installed_version(pm: PackageDb, pkg: &str) -> Result<Option<String>> {
    match pm {
        PackageDb::Dpkg => {
            let argv = ["dpkg-query", "-W", "-f", "${Package} ${Status} ${Version}\n", pkg];
            let (code, out) = query(&argv)?;
            if code != 0 {
                if code == 1
                    && (out.starts_with("dpkg-query: no packages found") || out.starts_with("No packages found matching"))
                {
                    return Ok(None);
                }
                return Err(query_failed(&argv, code, &out));
            }
            if field(&out, Some(' '), 3, &argv)? != "installed" {
                return Ok(None);
            }
            field(&out, Some(' '), 4, &argv).map(Some)
        }
        PackageDb::Rpm => {
            let argv = [
                "rpm",
                "--qf",
                "%{NAME} %|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\n",
                "--whatprovides",
                "-q",
                pkg,
            ];
            let (code, out) = query(&argv)?;
            if code != 0 {
                let t = out.trim();
                if code == 1 && (t.ends_with("is not installed") || t.starts_with("no package provides")) {
                    return Ok(None);
                }
                return Err(query_failed(&argv, code, &out));
            }
            field(&out, Some(' '), 1, &argv).map(Some)
        }
        PackageDb::Emerge => {
            let argv = ["equery", "l", "--format='$version'", pkg];
            let (code, out) = query(&argv)?;
            match code {
                0 => field(&out, Some(' '), 0, &argv).map(Some),
                3 => Ok(None),
                _ => Err(query_failed(&argv, code, &out)),
            }
        }
        PackageDb::Pacman => {
            let argv = ["pacman", "-Q", pkg];
            let (code, out) = query(&argv)?;
            if code != 0 {
                if code == 1 && out.contains(&format!("error: package '{pkg}' was not found")) {
                    return Ok(None);
                }
                return Err(query_failed(&argv, code, &out));
            }
            field(&out, Some(' '), 1, &argv).map(Some)
        }
        PackageDb::Apk => {
            let argv = ["apk", "version", pkg];
            let out = spawn(&argv)?;
            if out.status.code() == Some(1) {
                return Ok(None);
            }
            let text = out.stdout;
            if text.split_whitespace().count() < 4 {
                return Ok(None);
            }
            field(&text, None, 4, &argv).map(Some)
        }
        PackageDb::Unknown => Err(Error::new("Unknown package manager for current platform.")
            .hint("bindep checks installed packages only with dpkg, rpm, emerge, pacman or apk; use -l to list")),
    }
}
