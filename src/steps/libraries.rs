//! Step `libraries` of a two-stage build: which distro packages the runtime image needs so that
//! the venv's compiled modules find their shared libraries.
//!
//! The builder stage compiles sdists against -dev packages (or installs wheels built against
//! them); the runtime stage has none of those, only what bindep lists. So in the builder, loci
//! reads the `DT_NEEDED` entries of every ELF file in the venv, drops the libraries the venv
//! carries itself (auditwheel's `*.libs` directories), finds the rest with `ldconfig -p` and
//! asks the package database which packages own them. The list lands in
//! `/etc/image_info/venv-libraries.txt`, which the runtime stage installs from
//! ([`crate::plan::PackagesAction::InstallListed`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::distro::{Distro, Family};
use crate::error::{Context, Error, Result};
use crate::plan::{Cmd, LibrariesAction, PlanInput, Step};
use crate::runner::{Context as RunContext, Runner};

/// Where the builder writes the packages and the runtime stage reads them.
pub fn list_file(c: &Config) -> PathBuf {
    c.paths.image_info.join("venv-libraries.txt")
}

pub fn plan_record(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    Ok(Some(
        Step::new(
            "libraries",
            "the packages providing the shared libraries of the venv's compiled modules",
        )
        .action(LibrariesAction::RecordVenvLibraries {
            venv: c.paths.venv.clone(),
            out: list_file(c),
        }),
    ))
}

impl fmt::Display for LibrariesAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LibrariesAction::RecordVenvLibraries { venv, out } = self;
        write!(
            f,
            "find the packages providing the shared libraries of {}'s compiled modules -> {}",
            venv.display(),
            out.display()
        )
    }
}

/// Runs one action of this module.
pub fn run(action: &LibrariesAction, ctx: &mut RunContext) -> Result<()> {
    let LibrariesAction::RecordVenvLibraries { venv, out } = action;
    record(venv, out, &ctx.plan.distro, ctx.runner)
}

/// The shared libraries that the ELF files (modules and programs) below `venv` need and that the venv does not carry,
/// each with one file that needs it.
pub fn needed_libraries(venv: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut needed: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut carried: BTreeSet<String> = BTreeSet::new();
    for entry in walkdir::WalkDir::new(venv).follow_links(false) {
        let entry = entry.map_err(|e| {
            Error::new(format!("cannot walk {}", venv.display())).cause(e.to_string())
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".so") || name.contains(".so.") {
            carried.insert(name);
        }
        // Extension modules and programs alike (uwsgi is an executable in bin/).
        let path = entry.path();
        let mut magic = [0u8; 4];
        let is_elf = std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok()
            && magic == *b"\x7fELF";
        if !is_elf {
            continue;
        }
        let bytes = std::fs::read(path).context(|| format!("cannot read {}", path.display()))?;
        // A file that does not parse is not loaded by the dynamic linker either: skip it.
        let Ok(elf) = goblin::elf::Elf::parse(&bytes) else {
            continue;
        };
        for lib in elf.libraries {
            needed
                .entry(lib.to_string())
                .or_insert_with(|| path.to_path_buf());
        }
    }
    needed.retain(|lib, _| !carried.contains(lib));
    Ok(needed)
}

/// The paths `ldconfig -p` gives for library names (the first entry of each name).
pub fn parse_ldconfig(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        let (Some((name, _)), Some((_, path))) = (line.split_once(' '), line.split_once(" => "))
        else {
            continue;
        };
        out.entry(name.to_string())
            .or_insert_with(|| path.trim().to_string());
    }
    out
}

/// The same file under merged /usr: `/lib/x` and `/usr/lib/x` (the package database records
/// one of them).
fn aliases(path: &str) -> Vec<String> {
    let mut out = vec![path.to_string()];
    for (a, b) in [("/usr/lib/", "/lib/"), ("/usr/lib64/", "/lib64/")] {
        if let Some(rest) = path.strip_prefix(a) {
            out.push(format!("{b}{rest}"));
        } else if let Some(rest) = path.strip_prefix(b) {
            out.push(format!("{a}{rest}"));
        }
    }
    out
}

/// Owner answers as path -> package: `pkg:arch: path` lines (dpkg), or one line per queried
/// path in order (rpm).
pub fn parse_owners(family: Family, queried: &[String], text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if family == Family::RedHat {
        for (path, line) in queried.iter().zip(text.lines()) {
            let line = line.trim();
            if !line.is_empty() && !line.contains(' ') {
                out.insert(path.clone(), line.to_string());
            }
        }
        return out;
    }
    for line in text.lines() {
        // `diversion by x from: y` lines and multi-owner `a, b: path` lines.
        let parsed = line.split_once(": ").and_then(|(pkgs, path)| {
            if line.starts_with("diversion ") {
                return None;
            }
            let pkg = pkgs.split(", ").next()?;
            Some((path, pkg.split(':').next()?))
        });
        if let Some((path, pkg)) = parsed {
            out.insert(path.trim().to_string(), pkg.to_string());
        }
    }
    out
}

/// Runs the `libraries` step: writes the owning packages of the venv's libraries to `out`.
pub fn record(venv: &Path, out: &Path, distro: &Distro, runner: &mut dyn Runner) -> Result<()> {
    let needed = needed_libraries(venv)?;
    let cache = parse_ldconfig(&runner.output(&Cmd::new("ldconfig", ["-p"]))?);
    let mut queried: Vec<String> = Vec::new();
    let mut found: Vec<(&String, &String)> = Vec::new();
    for (lib, user) in &needed {
        match cache.get(lib) {
            Some(path) => {
                queried.extend(aliases(path));
                found.push((lib, path));
            }
            None => crate::say!(
                "warning: {lib} (needed by {}) is not in the linker cache",
                user.display()
            ),
        }
    }
    let owners = if queried.is_empty() {
        BTreeMap::new()
    } else {
        parse_owners(
            distro.family,
            &queried,
            &runner.probe(&distro.owner_query_cmd(&queried))?,
        )
    };
    let mut packages: BTreeSet<String> = BTreeSet::new();
    for (lib, path) in found {
        match aliases(path).iter().find_map(|p| owners.get(p)) {
            Some(pkg) => {
                crate::say!("{lib} -> {pkg}");
                packages.insert(pkg.clone());
            }
            None => crate::say!("warning: no package owns {path} ({lib})"),
        }
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    }
    let text: String = packages.iter().map(|p| format!("{p}\n")).collect();
    std::fs::write(out, text).context(|| format!("cannot write {}", out.display()))?;
    crate::say!(
        "{} shared libraries outside the venv, from {} packages",
        needed.len(),
        packages.len()
    );
    Ok(())
}

/// Reads a package list written by [`record`]; a missing file is an error naming the stage.
pub fn read_list(file: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::new(format!("cannot read {}", file.display()))
            .caused_by(e)
            .hint("the runtime target copies it from the builder stage: build with the project's Dockerfile (`--target runtime`)")
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldconfig_lines_give_paths() {
        let text = "1234 libs found in cache `/etc/ld.so.cache'\n\
            \tlibpq.so.5 (libc6,x86-64) => /lib/x86_64-linux-gnu/libpq.so.5\n\
            \tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n\
            \tlibz.so.1 (libc6) => /lib/i386-linux-gnu/libz.so.1\n";
        let m = parse_ldconfig(text);
        assert_eq!(m["libpq.so.5"], "/lib/x86_64-linux-gnu/libpq.so.5");
        assert_eq!(m["libz.so.1"], "/lib/x86_64-linux-gnu/libz.so.1");
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn owners_of_dpkg_and_rpm() {
        let d = parse_owners(
            Family::Debian,
            &[],
            "libpq5:amd64: /usr/lib/x86_64-linux-gnu/libpq.so.5\n\
             diversion by x from: /usr/lib/a\n\
             zlib1g:amd64, zlib1g:i386: /lib/x86_64-linux-gnu/libz.so.1\n",
        );
        assert_eq!(d["/usr/lib/x86_64-linux-gnu/libpq.so.5"], "libpq5");
        assert_eq!(d["/lib/x86_64-linux-gnu/libz.so.1"], "zlib1g");
        assert_eq!(d.len(), 2);
        let queried = [
            "/usr/lib64/libpq.so.5".to_string(),
            "/lib64/libpq.so.5".to_string(),
        ];
        let r = parse_owners(
            Family::RedHat,
            &queried,
            "libpq\nfile /lib64/libpq.so.5 is not owned by any package\n",
        );
        assert_eq!(r["/usr/lib64/libpq.so.5"], "libpq");
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn merged_usr_aliases() {
        assert_eq!(
            aliases("/lib/x86_64-linux-gnu/libz.so.1"),
            [
                "/lib/x86_64-linux-gnu/libz.so.1",
                "/usr/lib/x86_64-linux-gnu/libz.so.1"
            ]
        );
        assert_eq!(
            aliases("/usr/lib64/libpq.so.5"),
            ["/usr/lib64/libpq.so.5", "/lib64/libpq.so.5"]
        );
    }

    /// This test binary itself is an ELF file: copied into a fake venv as a module, its needed
    /// libraries (libc at least, for the test harness) are found, and a library the venv
    /// carries is left out.
    #[test]
    fn needed_libraries_of_an_elf_file_minus_what_the_venv_carries() {
        let venv = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let bytes = std::fs::read(&exe).unwrap();
        let elf = goblin::elf::Elf::parse(&bytes).unwrap();
        let libs: Vec<String> = elf.libraries.iter().map(|s| s.to_string()).collect();
        assert!(!libs.is_empty(), "the test binary links dynamically");
        let dir = venv.path().join("lib/python3.11/site-packages/pkg");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("_mod.cpython-311-x86_64-linux-gnu.so"), &bytes).unwrap();
        let found = needed_libraries(venv.path()).unwrap();
        assert_eq!(found.keys().cloned().collect::<Vec<_>>(), {
            let mut l = libs.clone();
            l.sort();
            l.dedup();
            l
        });
        // The venv carries the first one (as auditwheel's pkg.libs does).
        let carried = venv.path().join("lib/python3.11/site-packages/pkg.libs");
        std::fs::create_dir_all(&carried).unwrap();
        std::fs::write(carried.join(&libs[0]), b"not elf").unwrap();
        let found = needed_libraries(venv.path()).unwrap();
        assert!(!found.contains_key(&libs[0]));
    }
}
