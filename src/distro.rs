//! Distribution detection and the package-manager commands that go with it.
//!
//! Everything distro-specific that is not in bindep.txt lives here: which package manager a
//! distro uses, the argument vectors for refreshing, installing and purging, the default Python
//! of a release, and the names of the base packages loci needs for a build.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::os_release::OsRelease;
use crate::process::Cmd;

/// The distribution ids loci knows, shown when detection fails.
pub const SUPPORTED: &[&str] = &[
    "debian",
    "ubuntu",
    "centos",
    "rocky",
    "almalinux",
    "rhel",
    "ol",
    "fedora",
];

/// Package family: decides dpkg vs rpm selectors and the package manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Debian,
    RedHat,
}

/// The command-line package manager in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    Apt,
    Dnf,
    Yum,
}

/// A detected (or overridden) distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distro {
    /// Distribution id after DISTRO override (`debian`, `ubuntu`, `centos`, `rocky`, ...).
    pub id: String,
    /// `VERSION_ID` as found in os-release.
    pub version_id: String,
    /// Release codename (`bookworm`, `jammy`, `noble`); none on the rpm distros.
    pub codename: Option<String>,
    pub family: Family,
    pub package_manager: PackageManager,
    /// The release's default `python3` as (major, minor), when known for this release.
    pub python: Option<(u32, u32)>,
    /// The os-release the distro was detected from (bindep needs ID_LIKE and friends).
    #[serde(skip)]
    pub os_release: OsRelease,
    /// The package manager's cache directory in the package cache (PACKAGE_CACHE): apt's
    /// archives and lists, dnf's cachedir, kept between builds and never in a layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<PathBuf>,
    /// The file where the package manager keeps which packages were installed only as
    /// dependencies: apt's `Dir::State::extended_states` (stanzas of `Package:`,
    /// `Architecture:`, `Auto-Installed: 1`), read instead of asking `apt-mark showauto`, which
    /// loads the whole package cache for it (0.4-0.6 s a build). `None` on rpm distros.
    #[serde(skip)]
    pub auto_marks: Option<PathBuf>,
}

impl Distro {
    /// Detects the distro from os-release, with `DISTRO` (if set) overriding the id.
    ///
    /// `has_dnf` tells whether `dnf` exists on the machine: rpm distros without it use `yum`.
    /// For planning another machine, pass `None` to decide from the release number alone.
    pub fn detect(
        os: &OsRelease,
        distro_override: Option<&str>,
        has_dnf: Option<bool>,
    ) -> Result<Self> {
        let id = distro_override
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| os.id.clone());
        let family = match id.as_str() {
            "debian" | "ubuntu" => Family::Debian,
            "centos" | "rocky" | "almalinux" | "rhel" | "ol" | "fedora" => Family::RedHat,
            _ => {
                let from = if distro_override.is_some() {
                    format!("DISTRO={id}")
                } else {
                    format!("ID={id} in os-release ({})", os.pretty_name)
                };
                return Err(
                    Error::new(format!("unsupported distribution: {from}")).hint(format!(
                        "supported distributions are: {}",
                        SUPPORTED.join(", ")
                    )),
                );
            }
        };
        let major: u32 = os
            .version_id
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        let package_manager = match family {
            Family::Debian => PackageManager::Apt,
            Family::RedHat => match has_dnf {
                Some(true) => PackageManager::Dnf,
                Some(false) => PackageManager::Yum,
                None if id != "fedora" && major > 0 && major < 8 => PackageManager::Yum,
                None => PackageManager::Dnf,
            },
        };
        let codename = match family {
            Family::Debian => os
                .codename
                .clone()
                .or_else(|| debian_codename(&os.version_id)),
            Family::RedHat => None,
        };
        let python = default_python(&id, &os.version_id, codename.as_deref());
        Ok(Distro {
            id,
            version_id: os.version_id.clone(),
            codename,
            family,
            package_manager,
            python,
            os_release: os.clone(),
            cache: None,
            auto_marks: (package_manager == PackageManager::Apt)
                .then(|| PathBuf::from("/var/lib/apt/extended_states")),
        })
    }

    /// This distro with its package manager's cache under `cache_dir` (the build's package
    /// cache, [`crate::config::Config::cache_dir`]): its `system/` directory.
    pub fn with_package_cache(mut self, cache_dir: Option<&Path>) -> Self {
        self.cache = cache_dir.map(|d| d.join("system"));
        self
    }

    /// The directories the package manager expects in its cache (apt does not create the
    /// `partial` directories outside /var): made before the first command.
    pub fn cache_dirs_to_create(&self) -> Vec<PathBuf> {
        let Some(c) = &self.cache else {
            return Vec::new();
        };
        match self.package_manager {
            PackageManager::Apt => vec![c.join("archives/partial"), c.join("lists/partial")],
            PackageManager::Dnf | PackageManager::Yum => vec![c.clone()],
        }
    }

    /// The options that point the package manager at its cache (none without one).
    fn cache_options(&self) -> Vec<String> {
        let Some(c) = &self.cache else {
            return Vec::new();
        };
        match self.package_manager {
            PackageManager::Apt => vec![
                "-o".into(),
                format!("Dir::Cache::Archives={}/", c.join("archives").display()),
                "-o".into(),
                format!("Dir::State::Lists={}/", c.join("lists").display()),
                "-o".into(),
                "APT::Keep-Downloaded-Packages=true".into(),
            ],
            PackageManager::Dnf | PackageManager::Yum => vec![
                format!("--setopt=cachedir={}", c.display()),
                "--setopt=keepcache=True".into(),
            ],
        }
    }

    /// Major release number (`12`, `22`, `9`), 0 if unknown.
    pub fn major(&self) -> u32 {
        self.version_id
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }

    /// The packages loci needs in every image: what its steps call (git for sources, python3
    /// and venv for the virtualenv) and what OpenStack services expect at run time.
    pub fn base_packages(&self) -> Vec<String> {
        let mut p: Vec<String> = match self.family {
            Family::Debian => [
                "ca-certificates",
                "netbase",
                "lsb-release",
                "sudo",
                "python3",
                "python3-venv",
            ]
            .map(String::from)
            .to_vec(),
            Family::RedHat => ["ca-certificates", "sudo", "python3"]
                .map(String::from)
                .to_vec(),
        };
        if self.family == Family::Debian {
            if self.has_python3_distutils() {
                p.push("python3-distutils".into());
            }
            if let Some((3, minor)) = self.python {
                p.push(format!("libpython3.{minor}"));
            }
        }
        p
    }

    /// Packages installed only so that the build can run; cleanup purges them unless bindep or
    /// DIST_PACKAGES asked for them too.
    pub fn build_only_packages(&self) -> Vec<String> {
        ["git", "patch"].map(String::from).to_vec()
    }

    /// The build-only packages a build installs: git, for pbr's version of a git checkout and
    /// for `git+` requirements. (patch, which LOCI's base image also carries, is not used by
    /// loci; cleanup still purges it when a base image has it.)
    pub fn build_tools(&self) -> Vec<String> {
        vec!["git".to_string()]
    }

    /// Appends the [`Distro::build_tools`] that `packages` lacks (to one package transaction).
    pub fn add_build_tools(&self, packages: &mut Vec<String>) {
        for tool in self.build_tools() {
            if !packages.contains(&tool) {
                packages.push(tool);
            }
        }
    }

    /// `python3-distutils` was dropped in Debian trixie and Ubuntu noble (Python 3.12).
    fn has_python3_distutils(&self) -> bool {
        match self.python {
            Some((3, minor)) => minor < 12,
            _ => false,
        }
    }

    /// The one package-index refresh of a build.
    pub fn refresh_cmd(&self) -> Option<Cmd> {
        let cmd = match self.package_manager {
            PackageManager::Apt => Cmd::new("apt-get", ["update"]),
            PackageManager::Dnf => Cmd::new("dnf", ["makecache", "-y"]),
            PackageManager::Yum => Cmd::new("yum", ["makecache", "-y"]),
        };
        Some(cmd.args(self.cache_options()))
    }

    /// Installs `packages` without recommended/weak dependencies, failing on unknown names.
    pub fn install_cmd(&self, packages: &[String]) -> Cmd {
        let mut cmd = match self.package_manager {
            PackageManager::Apt => {
                Cmd::new("apt-get", ["install", "-y", "--no-install-recommends"])
                    .env("DEBIAN_FRONTEND", "noninteractive")
            }
            PackageManager::Dnf => Cmd::new(
                "dnf",
                [
                    "install",
                    "-y",
                    "--setopt=install_weak_deps=False",
                    "--setopt=tsflags=nodocs",
                ],
            ),
            PackageManager::Yum => Cmd::new(
                "yum",
                [
                    "install",
                    "-y",
                    "--setopt=skip_missing_names_on_install=False",
                    "--setopt=tsflags=nodocs",
                ],
            ),
        };
        cmd.args.extend(self.cache_options());
        cmd.args.extend(packages.iter().cloned());
        cmd
    }

    /// Removes `packages` and whatever was pulled in only for them.
    pub fn purge_cmd(&self, packages: &[String]) -> Cmd {
        let mut cmd = match self.package_manager {
            // What was pulled in only as a recommendation or suggestion of a purged package
            // (perl for git) goes too, whatever the image's apt settings.
            PackageManager::Apt => Cmd::new(
                "apt-get",
                [
                    "purge",
                    "-y",
                    "--auto-remove",
                    "-o",
                    "APT::AutoRemove::RecommendsImportant=false",
                    "-o",
                    "APT::AutoRemove::SuggestsImportant=false",
                ],
            )
            .env("DEBIAN_FRONTEND", "noninteractive"),
            PackageManager::Dnf => Cmd::new("dnf", ["remove", "-y"]),
            PackageManager::Yum => Cmd::new("yum", ["remove", "-y"]),
        };
        cmd.args.extend(packages.iter().cloned());
        cmd
    }

    /// Asks the package database which of `packages` are installed.
    pub fn query_installed_cmd(&self, packages: &[String]) -> Cmd {
        let mut cmd = match self.family {
            Family::Debian => Cmd::new(
                "dpkg-query",
                ["--show", "--showformat=${Package} ${db:Status-Status}\\n"],
            ),
            Family::RedHat => Cmd::new("rpm", ["--query", "--queryformat=%{NAME} installed\\n"]),
        };
        cmd.args.extend(packages.iter().cloned());
        cmd
    }

    /// Marks `packages` as installed on purpose, so that no autoremove takes them: what
    /// `apt-get install` does to every package it names, already installed or not. `None`
    /// where [`Self::auto_marks`] is.
    pub fn mark_manual_cmd(&self, packages: &[String]) -> Option<Cmd> {
        match self.package_manager {
            PackageManager::Apt => {
                Some(Cmd::new("apt-mark", ["manual"]).args(packages.iter().cloned()))
            }
            PackageManager::Dnf | PackageManager::Yum => None,
        }
    }

    /// Asks the package index (after a refresh) which of `packages` can be installed: apt's
    /// policy (a `Candidate:` line per known name, `(none)` for a virtual package nothing
    /// installable provides; unknown names are left out), or dnf's repoquery of what provides
    /// them (every capability of every matching package, one a line). `None` where there is no
    /// such query (yum without yum-utils).
    pub fn index_query_cmd(&self, packages: &[String]) -> Option<Cmd> {
        match self.package_manager {
            PackageManager::Apt => Some(
                Cmd::new("apt-cache", ["policy"])
                    .args(self.cache_options())
                    .args(packages.iter().cloned()),
            ),
            PackageManager::Dnf => Some(
                Cmd::new(
                    "dnf",
                    [
                        "repoquery".to_string(),
                        "--quiet".into(),
                        "--queryformat=%{name}\\n%{provides}\\n".into(),
                        "--whatprovides".into(),
                        packages.join(","),
                    ],
                )
                .args(self.cache_options()),
            ),
            PackageManager::Yum => None,
        }
    }

    /// Asks the package database which packages own `paths` (files). Debian answers
    /// `pkg[:arch]: path` lines for the owned ones; rpm one line per path, in order: the
    /// package's name, or `file ... is not owned by any package`.
    pub fn owner_query_cmd(&self, paths: &[String]) -> Cmd {
        let mut cmd = match self.family {
            Family::Debian => Cmd::new("dpkg-query", ["--search"]),
            Family::RedHat => Cmd::new("rpm", ["--query", "--file", "--queryformat=%{NAME}\\n"]),
        };
        cmd.args.extend(paths.iter().cloned());
        cmd
    }

    /// Drops the package manager's caches.
    pub fn clean_cmd(&self) -> Cmd {
        match self.package_manager {
            PackageManager::Apt => Cmd::new("apt-get", ["clean"]),
            PackageManager::Dnf => Cmd::new("dnf", ["clean", "all"]),
            PackageManager::Yum => Cmd::new("yum", ["clean", "all"]),
        }
    }

    /// Package lists and caches: directories emptied and files removed at cleanup, after
    /// [`Self::clean_cmd`] dropped the downloaded packages. (apt: not /var/cache/apt itself,
    /// whose archives/lock and archives/partial come with the base image: deleting those would
    /// add whiteouts, stamped with the time of the build, to the layer.)
    pub fn cache_dirs(&self) -> Vec<&'static str> {
        match self.package_manager {
            PackageManager::Apt => vec![
                "/var/lib/apt/lists",
                "/var/cache/apt/pkgcache.bin",
                "/var/cache/apt/srcpkgcache.bin",
            ],
            PackageManager::Dnf => vec!["/var/cache/dnf"],
            PackageManager::Yum => vec!["/var/cache/yum"],
        }
    }

    /// Logs and caches of the package manager and the dynamic linker that record dates or inode
    /// numbers of this build: removed at cleanup, so that two builds leave the same files.
    pub fn build_logs(&self) -> Vec<&'static str> {
        let mut logs = match self.package_manager {
            PackageManager::Apt => vec![
                "/var/log/dpkg.log",
                "/var/log/alternatives.log",
                "/var/log/apt/history.log",
                "/var/log/apt/term.log",
                "/var/log/apt/eipp.log.xz",
            ],
            PackageManager::Dnf | PackageManager::Yum => vec![
                "/var/log/dnf.log",
                "/var/log/dnf.librepo.log",
                "/var/log/dnf.rpm.log",
                "/var/log/hawkey.log",
                "/var/log/yum.log",
            ],
        };
        logs.push("/var/cache/ldconfig/aux-cache");
        logs
    }

    /// Lists installed packages for /etc/image_info/packages.txt.
    pub fn list_packages_cmd(&self) -> Cmd {
        match self.family {
            Family::Debian => Cmd::new("dpkg", ["-l"]),
            Family::RedHat => Cmd::new("rpm", ["-qa"]),
        }
    }

    /// A label such as `debian-bookworm` or `rocky-9` for logs and plans.
    pub fn label(&self) -> String {
        match &self.codename {
            Some(c) => format!("{}-{c}", self.id),
            None => format!("{}-{}", self.id, self.version_id),
        }
    }
}

fn debian_codename(version_id: &str) -> Option<String> {
    let name = match version_id {
        "10" => "buster",
        "11" => "bullseye",
        "12" => "bookworm",
        "13" => "trixie",
        "14" => "forky",
        _ => return None,
    };
    Some(name.to_string())
}

/// The default `python3` of a release, so that the plan can name `libpython3.X` up front
/// (LOCI runs python3 after installing it to find out; knowing saves a package-manager run).
fn default_python(id: &str, version_id: &str, codename: Option<&str>) -> Option<(u32, u32)> {
    let minor = match (id, codename) {
        ("debian", Some("bullseye")) => 9,
        ("debian", Some("bookworm")) => 11,
        ("debian", Some("trixie")) => 13,
        ("ubuntu", Some("focal")) => 8,
        ("ubuntu", Some("jammy")) => 10,
        ("ubuntu", Some("noble")) => 12,
        ("centos" | "rocky" | "almalinux" | "rhel" | "ol", _) => {
            match version_id.split('.').next() {
                Some("8") => 6,
                Some("9") => 9,
                Some("10") => 12,
                _ => return None,
            }
        }
        _ => return None,
    };
    Some((3, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const BOOKWORM: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
    pub const NOBLE: &str = "PRETTY_NAME=\"Ubuntu 24.04 LTS\"\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=noble\n";
    pub const ROCKY9: &str = "NAME=\"Rocky Linux\"\nVERSION_ID=\"9.4\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nPRETTY_NAME=\"Rocky Linux 9.4 (Blue Onyx)\"\n";

    #[test]
    fn bookworm_uses_apt_and_python_311() {
        let d = Distro::detect(&OsRelease::parse(BOOKWORM), None, None).unwrap();
        assert_eq!(d.family, Family::Debian);
        assert_eq!(d.package_manager, PackageManager::Apt);
        assert_eq!(d.python, Some((3, 11)));
        let base = d.base_packages();
        assert!(base.contains(&"libpython3.11".to_string()));
        assert!(base.contains(&"python3-distutils".to_string()));
    }

    #[test]
    fn noble_has_no_distutils() {
        let d = Distro::detect(&OsRelease::parse(NOBLE), None, None).unwrap();
        let base = d.base_packages();
        assert!(base.contains(&"libpython3.12".to_string()));
        assert!(!base.iter().any(|p| p == "python3-distutils"));
    }

    #[test]
    fn rocky_uses_dnf_or_yum_when_dnf_is_absent() {
        let os = OsRelease::parse(ROCKY9);
        let d = Distro::detect(&os, None, None).unwrap();
        assert_eq!(d.package_manager, PackageManager::Dnf);
        assert_eq!(d.label(), "rocky-9.4");
        let y = Distro::detect(&os, None, Some(false)).unwrap();
        assert_eq!(y.package_manager, PackageManager::Yum);
        assert_eq!(y.install_cmd(&["git".into()]).program, "yum");
    }

    #[test]
    fn distro_override_wins_and_unknown_ids_list_supported() {
        let d = Distro::detect(&OsRelease::parse(BOOKWORM), Some("Ubuntu"), None).unwrap();
        assert_eq!(d.id, "ubuntu");
        let e = Distro::detect(&OsRelease::parse(BOOKWORM), Some("gentoo"), None).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("DISTRO=gentoo"), "{s}");
        assert!(s.contains("debian, ubuntu, centos, rocky"), "{s}");
    }
}
