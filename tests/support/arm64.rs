//! Helpers of the arm64 tests (`tests/e2e_arm64.rs`), beside `e2e.rs` (whose docker client,
//! caching and logging they use): the cross-compiled aarch64 loci (tools/cross-build.sh), an
//! arm64 Debian bookworm from `debootstrap --arch=arm64` (its second stage under qemu), and
//! docker runs for another platform. Everything for real: qemu-user-static and binfmt_misc as
//! tools/setup-host.sh leaves them.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use crate::e2e::*;

/// The arm64 debootstrap image, as `docker import --platform linux/arm64` made it.
pub const ARM64_ROOTFS_IMAGE: &str = "loci-test/bookworm-rootfs-arm64:latest";

/// binfmt_misc's entry for aarch64 executables: must exist and be enabled, with the F flag
/// (the interpreter opened at registration, so that it runs inside containers).
pub fn require_qemu_aarch64() {
    let entry = "/proc/sys/fs/binfmt_misc/qemu-aarch64";
    let text = std::fs::read_to_string(entry).unwrap_or_else(|e| {
        panic!("{entry}: {e}: arm64 emulation is not set up: apt-get install qemu-user-static (bookworm's), mount binfmt_misc and register /usr/lib/binfmt.d/qemu-aarch64.conf (tools/setup-host.sh does all three)")
    });
    assert!(
        text.lines().next() == Some("enabled")
            && text
                .lines()
                .any(|l| l.starts_with("flags:") && l.contains('F')),
        "{entry} is not enabled with the F flag:\n{text}"
    );
}

/// The static aarch64 loci binary from tools/cross-build.sh (run once per test binary: the
/// second time BuildKit's caches make it quick). Compiled with the `quick` profile unless
/// LOCI_CARGO_PROFILE says otherwise: the cross toolchain and the binary's target are what is
/// tested; optimising every crate for aarch64 took 35 minutes of a loaded 2-core suite
/// (bench/arm64.sh sets `release`, the profile images use).
pub fn cross_loci_arm64() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        require_docker();
        let started = Instant::now();
        let log = work_dir().join("logs/cross-build-arm64.log");
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        let out = Command::new("bash")
            .arg(root().join("tools/cross-build.sh"))
            .arg("arm64")
            .env(
                "LOCI_CARGO_PROFILE",
                std::env::var("LOCI_CARGO_PROFILE").unwrap_or_else(|_| "quick".into()),
            )
            .current_dir(root())
            .output()
            .unwrap_or_else(|e| panic!("cannot run tools/cross-build.sh: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&log, &text).unwrap();
        if !out.status.success() {
            let tail: Vec<&str> = text.lines().rev().take(60).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!(
                "tools/cross-build.sh arm64 failed ({}); log {}:\n{}",
                out.status,
                log.display(),
                tail.join("\n")
            );
        }
        record(&format!(
            "E2E-BUILD-TIME cross-build-arm64 {:.1}s",
            started.elapsed().as_secs_f64()
        ));
        let bin = root().join("target/cross/linux-arm64/loci");
        assert!(
            bin.is_file(),
            "tools/cross-build.sh left no {}",
            bin.display()
        );
        bin
    })
    .clone()
}

/// `debootstrap --arch=arm64 --variant=minbase bookworm` (the second stage under qemu),
/// imported as a linux/arm64 image; cached in the engine by its tag.
pub fn arm64_rootfs_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            require_docker();
            require_qemu_aarch64();
            if image_exists(ARM64_ROOTFS_IMAGE) {
                return ARM64_ROOTFS_IMAGE.to_string();
            }
            let dir = tempfile::Builder::new()
                .prefix("loci-rootfs-arm64")
                .tempdir_in(work_dir())
                .unwrap();
            let target = dir.path().join("rootfs");
            let started = Instant::now();
            check(
                Command::new("debootstrap")
                    .args(["--arch=arm64", "--variant=minbase", SUITE])
                    .arg(&target)
                    .arg("http://deb.debian.org/debian"),
            );
            pipe(
                Command::new("tar").arg("-C").arg(&target).args(["-c", "."]),
                docker().args([
                    "import",
                    "--platform",
                    "linux/arm64",
                    "--change",
                    "CMD [\"bash\"]",
                    "-",
                    ARM64_ROOTFS_IMAGE,
                ]),
            );
            record(&format!(
                "E2E-BUILD-TIME debootstrap-{SUITE}-arm64 {:.1}s",
                started.elapsed().as_secs_f64()
            ));
            ARM64_ROOTFS_IMAGE.to_string()
        })
        .clone()
}

/// `docker run --rm --platform PLATFORM` with `args` (image and command included); stdout.
pub fn run_on(platform: &str, args: &[&str]) -> String {
    stdout(
        docker()
            .args(["run", "--rm", "--platform", platform])
            .args(args),
    )
}

/// What `file` says of `path` (brief form).
pub fn file_type(path: &std::path::Path) -> String {
    stdout(Command::new("file").arg("-b").arg(path))
}
