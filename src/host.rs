//! Facts of the machine loci runs on, read in one place: its CPU count and architecture
//! ([`Host`], resolved once and passed into planning), and whether loci runs as the command
//! of a container (read when it matters, right before the purge of `/`).

use std::fs;

use serde::Serialize;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nominal_host_is_fixed_and_this_one_is_read() {
        assert_eq!(Host::nominal(), Host::nominal());
        assert_eq!(Host::nominal().cpus, 1);
        let here = Host::detect();
        assert!(here.cpus >= 1);
        assert_eq!(here.arch, std::env::consts::ARCH);
    }
}
