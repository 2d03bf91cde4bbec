//! The toolchain of a service's venv in a requirements image (pip, setuptools, wheel, bindep,
//! pkginfo, uv and their dependencies, within the constraints), whatever KEEP_ALL_WHEELS
//! says: with these in the image, service builds make their venv without the index
//! (steps/venv.rs). One `pip download` into the work dir, run beside the prefetch's reading of
//! pip's settings and its lookups ([`super::pool::Beside`]), its files moved into the root
//! before the first `pip wheel` (whose build dependencies, and the closure check, find
//! setuptools there).

use std::fs;
use std::path::Path;

use super::pool::Beside;
use super::reuse;
use crate::config::Config;
use crate::error::{Context, Result};
use crate::plan::{Cmd, PlanInput};
use crate::steps::python::{self, venv_bin};

/// Where the venv toolchain is downloaded, in the work dir (then moved into the root).
pub const DIR: &str = "toolchain";

/// What a service's venv step installs (pip, setuptools and wheel within their constraints,
/// bindep, pkginfo) and uv, which installs it.
pub fn toolchain(c: &Config) -> Vec<String> {
    vec![
        format!("pip{}", c.pip_constraint),
        format!("setuptools{}", c.setuptools_constraint),
        format!("wheel{}", c.wheel_constraint),
        "bindep".into(),
        "pkginfo".into(),
        "uv".into(),
    ]
}

/// The download: `pip download --only-binary :all:` of [`toolchain`] into `work`'s [`DIR`],
/// within the image's upper-constraints.txt at `root`.
pub fn download(input: &PlanInput, work: &Path, root: &Path) -> Cmd {
    let c = input.config;
    Cmd::new(
        venv_bin(input, "pip"),
        ["download", "--only-binary", ":all:"],
    )
    .args(python::pip_cache_args(input))
    .args(c.pip_args.iter().cloned())
    .args([
        "--dest".to_string(),
        work.join(DIR).display().to_string(),
        "-c".into(),
        root.join("upper-constraints.txt").display().to_string(),
    ])
    .args(toolchain(c))
}

/// The venv toolchain's download ([`super::WheelsSpec::toolchain`], run beside the
/// prefetch): waited for, its wheels moved from the work dir's [`DIR`] into `root` (a file
/// the prefetch already put there is the index's same file), or its error.
pub fn take(download: Beside, work: &Path, root: &Path) -> Result<()> {
    let dir = &work.join(DIR);
    let (out, took) = download.wait();
    out.map_err(|e| e.hint("the venv toolchain (pip, setuptools, wheel, bindep, pkginfo, uv) must come from pip's index within the constraints: check PIP_ARGS and the index"))?;
    let mut files: Vec<String> = fs::read_dir(dir)
        .context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| !f.starts_with('.'))
        .collect();
    files.sort();
    for f in &files {
        reuse::copy_into(&dir.join(f), root, f)
            .map_err(|e| crate::disk::write_error(&root.join(f), e, None))?;
    }
    let _ = fs::remove_dir_all(dir);
    crate::say!(
        "venv toolchain: {} files into {} (pip download, {}, beside the prefetch): {}",
        files.len(),
        root.display(),
        crate::report::human(took),
        files.join(" ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_download_beside_the_prefetch_lands_in_the_root() {
        let d = tempfile::tempdir().unwrap();
        let (work, root) = (d.path().join("work"), d.path().join("root"));
        fs::create_dir_all(work.join(DIR)).unwrap();
        fs::create_dir_all(&root).unwrap();
        fs::write(work.join(DIR).join("pip-26.3-py3-none-any.whl"), b"pip").unwrap();
        fs::write(
            work.join(DIR).join("pbr-7.0.3-py2.py3-none-any.whl"),
            b"pbr",
        )
        .unwrap();
        // The prefetch put pbr there already (the index's same file): left as it is.
        fs::write(root.join("pbr-7.0.3-py2.py3-none-any.whl"), b"pbr!").unwrap();
        let (r, said) = crate::report::capture(|| {
            take(
                Beside::start(&Cmd::new("true", [] as [&str; 0]), &[]),
                &work,
                &root,
            )
        });
        r.unwrap();
        assert_eq!(
            fs::read(root.join("pip-26.3-py3-none-any.whl")).unwrap(),
            b"pip"
        );
        assert_eq!(
            fs::read(root.join("pbr-7.0.3-py2.py3-none-any.whl")).unwrap(),
            b"pbr!"
        );
        assert!(!work.join(DIR).exists(), "the download dir is gone");
        assert!(
            said[0].starts_with("venv toolchain: 2 files into ")
                && said[0].ends_with(
                    "beside the prefetch): pbr-7.0.3-py2.py3-none-any.whl pip-26.3-py3-none-any.whl"
                ),
            "{said:?}"
        );
        // A failed download fails the step, with the command and a hint.
        let e = take(
            Beside::start(&Cmd::new("false", [] as [&str; 0]), &[]),
            &work,
            &root,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("false") && e.contains("venv toolchain"), "{e}");
    }
}
