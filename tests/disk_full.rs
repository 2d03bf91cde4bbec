//! A disk that fills up, for real: a small tmpfs (mounted as root) fills during the extraction
//! of a wheels archive (`loci fetch-wheels`, into a new and into an existing WHEELS_DEST) and
//! during a `pip install` (run the way loci runs every child). Each ends non-zero with a
//! message naming the path and the space seen or needed, and leaves no partial file.

#[path = "support/wheel.rs"]
mod wheel;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A tmpfs of `size` mounted on a new directory; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test mounts a tmpfs: run it as root (sudo tests/run.sh)"
        );
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount (util-linux) is needed");
        assert!(
            out.status.success(),
            "mount -t tmpfs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Everything under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .flatten()
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

/// A wheels archive of three 600 KB wheels at `path`.
fn wheels_archive(path: &Path) {
    let files: Vec<(String, Vec<u8>)> = (0..3u8)
        .map(|i| {
            (
                format!("pkg{i}-1.0-py3-none-any.whl"),
                wheel::noise(600 << 10, i),
            )
        })
        .collect();
    std::fs::write(path, wheel::wheels_archive(&files)).unwrap();
}

fn fetch_wheels(wheels: &Path, dest: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loci"))
        .arg("fetch-wheels")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("WHEELS", wheels)
        .env("WHEELS_DEST", dest)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_full_disk_during_extraction_is_named_and_leaves_nothing() {
    let src = tempfile::tempdir().unwrap();
    let archive = src.path().join("wheels.tar.gz");
    wheels_archive(&archive);
    let fs = Tmpfs::mount("1m");

    // A new WHEELS_DEST: nothing of it, nor of its staging, is left.
    let dest = fs.path().join("wheels");
    let (code, text) = fetch_wheels(&archive, &dest);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("the disk is full"), "{text}");
    assert!(
        text.contains(&format!(
            "free on the filesystem of {}",
            fs.path().display()
        )),
        "{text}"
    );
    assert!(text.contains("600 KiB needed"), "{text}");
    assert!(text.contains("hint: free space"), "{text}");
    assert_eq!(tree(fs.path()), Vec::<String>::new(), "{text}");

    // An existing WHEELS_DEST: left exactly as it was.
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("old-1.0-py3-none-any.whl"), "old").unwrap();
    let (code, text) = fetch_wheels(&archive, &dest);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("the disk is full"), "{text}");
    assert!(
        text.contains(&format!("free on the filesystem of {}", dest.display())),
        "{text}"
    );
    assert_eq!(
        tree(fs.path()),
        ["wheels", "wheels/old-1.0-py3-none-any.whl"],
        "{text}"
    );
}

/// A wheel of `name` holding a 3 MB module, installable by pip (with its RECORD).
fn big_wheel(dir: &Path, name: &str) -> PathBuf {
    let big = wheel::noise(3 << 20, 7);
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n");
    let wheel_file =
        b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    let record = format!(
        "{name}/data.bin,,\n{name}-1.0.dist-info/METADATA,,\n{name}-1.0.dist-info/WHEEL,,\n{name}-1.0.dist-info/RECORD,,\n"
    );
    let bytes = wheel::zip(&[
        (&format!("{name}/data.bin"), &big),
        (
            &format!("{name}-1.0.dist-info/METADATA"),
            metadata.as_bytes(),
        ),
        (&format!("{name}-1.0.dist-info/WHEEL"), wheel_file),
        (&format!("{name}-1.0.dist-info/RECORD"), record.as_bytes()),
    ]);
    let path = dir.join(format!("{name}-1.0-py3-none-any.whl"));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_full_disk_during_a_pip_install_is_named() {
    let work = tempfile::tempdir().unwrap();
    let venv = work.path().join("venv");
    let out = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .expect("python3 is needed: apt-get install python3 python3-venv");
    assert!(
        out.status.success(),
        "python3 -m venv failed (apt-get install python3-venv): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wheel = big_wheel(work.path(), "bigpkg");
    let fs = Tmpfs::mount("1m");
    let site = fs.path().join("site");
    let pip = loci::process::Cmd::new(
        venv.join("bin/pip").display().to_string(),
        [
            "install",
            "--no-index",
            "--no-deps",
            "--disable-pip-version-check",
            "--target",
        ],
    )
    .arg(site.display().to_string())
    .arg(wheel.display().to_string())
    // pip unpacks into its temporary directory first: on the full tmpfs too.
    .env("TMPDIR", fs.path().display().to_string());
    let e = loci::process::run(&loci::process::ChildEnv::default(), &pip)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("failed with exit code 1: the disk is full"),
        "{e}"
    );
    assert!(e.contains("No space left on device"), "{e}");
    // The full filesystem first: pip's target there.
    assert!(
        e.contains(&format!(" free on the filesystem of {}", site.display())),
        "{e}"
    );
    assert!(e.contains("hint: free space"), "{e}");
}
