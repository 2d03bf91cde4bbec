//! A Python venv with pinned packages from PyPI, for tests that compare loci with a real Python
//! tool (bindep, cyclonedx-python-lib). Created once under the test target's temp dir.

use std::path::Path;
use std::process::Command;

/// Makes `dir` a venv holding `pins` (pip requirement strings), unless a complete one is there.
/// It is built in a private directory and renamed into place, so concurrent test runs never see
/// a half-installed venv. `what` names the packages in errors.
pub fn ensure_venv(dir: &Path, pins: &[&str], what: &str) -> Result<(), String> {
    let marker = dir.join(".loci-complete");
    if marker.exists() {
        return Ok(());
    }
    let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let run = |cmd: &mut Command, what: &str| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{what} failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    };
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&tmp),
        "python3 -m venv (install python3 with its venv module, e.g. apt-get install python3 python3-venv)",
    )?;
    run(
        Command::new(tmp.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(pins),
        &format!("pip install {what} from PyPI (needs pip in the venv and network access to PyPI)"),
    )?;
    std::fs::write(tmp.join(".loci-complete"), pins.join("\n")).map_err(|e| e.to_string())?;
    match std::fs::rename(&tmp, dir) {
        Ok(()) => Ok(()),
        Err(_) if marker.exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(())
        }
        Err(_) => {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::rename(&tmp, dir)
                .map_err(|e| format!("cannot move the venv into {}: {e}", dir.display()))
        }
    }
}
