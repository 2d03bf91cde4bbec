//! Facts of the machine loci runs on, read in one place: its CPU count and architecture
//! ([`Host`], resolved once and passed into planning), and whether loci runs as the command
//! of a container (read when it matters, right before the purge of `/`).

use std::fs;

use serde::Serialize;

use crate::error::{Error, Result};

/// The machine a plan is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    /// How many CPUs the build may use (the requirements build's default jobs).
    pub cpus: usize,
    /// The CPU architecture, as Rust names it (`x86_64`, `aarch64`).
    pub arch: String,
}

impl Host {
    /// This machine.
    pub fn detect() -> Self {
        Host {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            arch: std::env::consts::ARCH.to_string(),
        }
    }

    /// Another machine, described by no more than an os-release file (`loci plan
    /// --os-release`): one CPU, x86_64, so that the plan is the same on every host.
    pub fn nominal() -> Self {
        Host {
            cpus: 1,
            arch: "x86_64".into(),
        }
    }

    /// The same machine with another CPU architecture (`loci plan --arch`), given by Rust's or
    /// Docker's name.
    pub fn with_arch(self, name: &str) -> Result<Self> {
        Ok(Host {
            arch: arch_of(name)?.to_string(),
            ..self
        })
    }

    /// The architecture as OCI images and Debian name it (`amd64`, `arm64`).
    pub fn oci_arch(&self) -> &str {
        match self.arch.as_str() {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }
    }
}

/// The architectures loci builds for, as Rust names them, from Rust's or Docker's name.
pub fn arch_of(name: &str) -> Result<&'static str> {
    match name {
        "x86_64" | "amd64" => Ok("x86_64"),
        "aarch64" | "arm64" => Ok("aarch64"),
        _ => Err(Error::new(format!("unknown architecture {name:?}"))
            .hint("loci builds for x86_64 (Docker's amd64) and aarch64 (arm64)")),
    }
}

/// The processes from this one up to PID 1, as (pid, command name).
pub fn ancestry() -> Vec<(u32, String)> {
    let mut chain = Vec::new();
    let mut pid = std::process::id();
    for _ in 0..64 {
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        chain.push((pid, comm.trim().to_string()));
        if pid <= 1 {
            break;
        }
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let ppid: u32 = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if ppid == 0 {
            break;
        }
        pid = ppid;
    }
    chain
}

/// Whether loci runs as the command of a container (a `docker build` RUN): it is PID 1, or
/// its parent is (the RUN's shell), or its grandparent is a container init (`--init`). On a
/// booted machine or from an interactive shell, it does not.
pub fn runs_as_container_command(chain: &[(u32, String)]) -> bool {
    let Some((last, init)) = chain.last() else {
        return false;
    };
    if *last != 1 || matches!(init.as_str(), "systemd" | "init") {
        return false;
    }
    match chain.len() {
        1 | 2 => true,
        3 => matches!(
            init.as_str(),
            "docker-init" | "tini" | "dumb-init" | "catatonit"
        ),
        _ => false,
    }
}

/// The commands that change the system they run on refuse to run where loci is not the
/// command of a container build (by [`ancestry`], as [`runs_as_container_command`] decides),
/// unless `allowed` (`--allow-host`, LOCI_ALLOW_HOST): `loci build` on a workstation, a CI
/// runner or in a shell of a running container would install packages, create a user and,
/// at its cleanup, delete /etc/machine-id, empty /tmp and purge git there. `command` names the
/// subcommand.
pub fn guard(command: &str, allowed: bool) -> crate::error::Result<()> {
    guard_for(&ancestry(), command, allowed)
}

/// [`guard`] for a given ancestry (innermost first).
pub fn guard_for(
    chain: &[(u32, String)],
    command: &str,
    allowed: bool,
) -> crate::error::Result<()> {
    if allowed || runs_as_container_command(chain) {
        return Ok(());
    }
    let shown: Vec<String> = chain.iter().map(|(p, c)| format!("{c}({p})")).collect();
    Err(crate::error::Error::new(format!(
        "loci {command} refuses to change this system: it is not the command of a container build"
    ))
    .cause(format!(
        "loci {command} installs packages, creates users and writes /var/lib/openstack; its cleanup deletes /etc/machine-id, \
         empties /tmp and purges git and bytecode; loci's process ancestry here is {} (a build's RUN has loci or its shell as PID 1)",
        shown.join(" <- ")
    ))
    .hint(format!(
        "run it as a build does: `docker build` with the project's Dockerfile, or `docker run IMAGE /mnt/loci {command}`; \
         to change this machine or container anyway, pass --allow-host or set LOCI_ALLOW_HOST=1"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(v: &[(u32, &str)]) -> Vec<(u32, String)> {
        v.iter().map(|(p, c)| (*p, c.to_string())).collect()
    }

    #[test]
    fn the_guard_lets_a_build_command_through_and_refuses_a_shell() {
        // A RUN's command, or its shell's child.
        assert!(guard_for(&chain(&[(1, "loci")]), "build", false).is_ok());
        assert!(guard_for(&chain(&[(7, "loci"), (1, "sh")]), "build", false).is_ok());
        // A login shell on a machine, and `docker exec` (no parent in the container).
        for c in [
            chain(&[(900, "loci"), (800, "bash"), (1, "systemd")]),
            chain(&[(42, "loci")]),
            chain(&[(42, "loci"), (30, "bash")]),
        ] {
            let e = guard_for(&c, "build", false).unwrap_err().to_string();
            assert!(
                e.contains("loci build refuses to change this system"),
                "{e}"
            );
            assert!(e.contains("loci(") && e.contains("/etc/machine-id"), "{e}");
            assert!(
                e.contains("--allow-host") && e.contains("LOCI_ALLOW_HOST=1"),
                "{e}"
            );
            assert!(guard_for(&c, "build", true).is_ok());
        }
    }

    #[test]
    fn the_nominal_host_is_fixed_and_this_one_is_read() {
        assert_eq!(Host::nominal(), Host::nominal());
        assert_eq!(Host::nominal().cpus, 1);
        let here = Host::detect();
        assert!(here.cpus >= 1);
        assert_eq!(here.arch, std::env::consts::ARCH);
    }

    #[test]
    fn another_architecture_by_either_name() {
        let arm = Host::nominal().with_arch("arm64").unwrap();
        assert_eq!(
            (arm.arch.as_str(), arm.oci_arch(), arm.cpus),
            ("aarch64", "arm64", 1)
        );
        assert_eq!(Host::nominal().with_arch("aarch64").unwrap(), arm);
        assert_eq!(Host::nominal().with_arch("amd64").unwrap(), Host::nominal());
        assert_eq!(Host::nominal().oci_arch(), "amd64");
        let e = Host::nominal().with_arch("riscv64").unwrap_err();
        assert!(e.what.contains("riscv64") && e.hint.unwrap().contains("aarch64"));
    }
}
