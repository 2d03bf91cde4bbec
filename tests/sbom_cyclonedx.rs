//! `loci sbom` against the CycloneDX 1.6 schema, checked by the real cyclonedx-python-lib.
//!
//! The library is installed from PyPI (`cyclonedx-python-lib[json-validation]`, pinned) into a
//! venv under `target/tmp/cyclonedx-venv` on the first run and reused afterwards. The test
//! writes a fake image root (a venv with three distributions, a wheels dir, a dpkg status, an
//! os-release and /etc/image_info), runs `loci sbom --root` on it, and has the library validate
//! the output with its strict JSON schema validator, load it as a `Bom`, and count its
//! components. Needing PyPI, it is marked ignored: a plain `cargo test` lists it, `tests/run.sh`
//! (`--include-ignored`) runs it. Without python3, its venv module or access to PyPI it then
//! fails, saying what to install: it is never skipped silently.

#[path = "support/cmd.rs"]
mod cmd;

#[path = "support/pyvenv.rs"]
mod pyvenv;

use std::path::{Path, PathBuf};
use std::process::Command;

const PIP_PINS: &[&str] = &["cyclonedx-python-lib[json-validation]==11.12.0"];

/// Validates argv[1] against CycloneDX 1.6, loads it, and checks the pypi and deb component
/// counts (argv[2], argv[3]) and the main component's name (argv[4]).
const CHECK: &str = r#"
import json, sys
from cyclonedx.model.bom import Bom
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

path, want_pypi, want_deb, want_main = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
text = open(path, encoding="utf-8").read()
errors = list(JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True) or [])
if errors:
    for e in errors:
        print("schema error:", e)
    sys.exit(1)
bom = Bom.from_json(json.loads(text))
types = [c.purl.type for c in bom.components if c.purl is not None]
pypi, deb = types.count("pypi"), types.count("deb")
assert pypi == want_pypi, f"{pypi} pypi components, want {want_pypi}"
assert deb == want_deb, f"{deb} deb components, want {want_deb}"
main = bom.metadata.component
assert main is not None and main.name == want_main, f"main component {main!r}"
hashed = [c for c in bom.components if len(c.hashes) > 0]
assert len(hashed) == 1, f"{len(hashed)} components with hashes, want 1"
refs = {str(d.ref) for d in bom.dependencies}
assert str(main.bom_ref) in refs, "the main component has no dependency entry"
print(f"valid CycloneDX 1.6: {pypi} pypi, {deb} deb components, serial {bom.serial_number}")
"#;

/// The venv's python with the library (created on first use).
fn python() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cyclonedx-venv");
    ensure_venv(&dir).unwrap_or_else(|e| panic!("cannot set up cyclonedx-python-lib: {e}"));
    dir.join("bin/python")
}

fn ensure_venv(dir: &Path) -> Result<(), String> {
    pyvenv::ensure_venv(dir, PIP_PINS, "cyclonedx-python-lib")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A fake image root: the project's dist and two more in the venv (one of them with its wheel
/// in `wheels`), three installed deb packages and a removed one.
fn fake_root(dir: &Path) -> (PathBuf, PathBuf) {
    let root = dir.join("root");
    let sp = root.join("var/lib/openstack/lib/python3.12/site-packages");
    write(
        &sp.join("keystone-27.0.0.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: keystone\nVersion: 27.0.0\nLicense: Apache License, Version 2.0\n\
         Requires-Dist: oslo.config>=6.8.0\nRequires-Dist: PyYAML\n\nKeystone.\n",
    );
    write(
        &sp.join("oslo.config-9.4.0.dist-info/METADATA"),
        "Metadata-Version: 2.4\nName: oslo.config\nVersion: 9.4.0\nLicense-Expression: Apache-2.0\n\
         Requires-Dist: PyYAML>=5.1\nRequires-Dist: sphinx; extra == \"docs\"\n",
    );
    write(
        &sp.join("PyYAML-6.0.1+local.1.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.1+local.1\n\
         Classifier: License :: OSI Approved :: MIT License\n",
    );
    let wheels = dir.join("wheels");
    write(
        &wheels.join("oslo_config-9.4.0-py3-none-any.whl"),
        "wheel bytes",
    );
    write(
        &root.join("var/lib/dpkg/status"),
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\n\n\
         Package: libstdc++6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.2.0-14\n\n\
         Package: tzdata\nStatus: hold ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n\n\
         Package: perl-base\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:5.36.0-7+deb12u1\n\n\
         Package: old-thing\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n",
    );
    write(
        &root.join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    );
    write(
        &root.join("etc/image_info/project.txt"),
        "PROJECT=keystone\nPROJECT_REPO=https://opendev.org/openstack/keystone\nPROJECT_REF=master\n\
         PROJECT_RELEASE=master\ncommit 0123456789abcdef0123456789abcdef01234567\nAuthor: t <t@example.com>\n\
         Date:   1700000000 +0000\n\n    A commit\n",
    );
    write(
        &root.join("etc/image_info/image_info.json"),
        r#"{"project":"keystone","distro":"debian-bookworm",
            "wheels":{"kind":"mounted","location":{"image":"loci/requirements:master","path":"/wheels"}}}"#,
    );
    (root, wheels)
}

fn loci_sbom(root: &Path, wheels: &Path, epoch: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loci"));
    cmd.arg("sbom")
        .arg("--root")
        .arg(root)
        .arg("--wheels")
        .arg(wheels);
    cmd.env_remove("SOURCE_DATE_EPOCH");
    if let Some(e) = epoch {
        cmd.env("SOURCE_DATE_EPOCH", e);
    }
    let out = cmd::ok(&mut cmd);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn the_sbom_is_valid_cyclonedx_1_6() {
    let d = tempfile::tempdir().unwrap();
    let (root, wheels) = fake_root(d.path());
    let python = python();
    for epoch in [None, Some("1700000000")] {
        let text = loci_sbom(&root, &wheels, epoch);
        assert_eq!(
            text,
            loci_sbom(&root, &wheels, epoch),
            "the same root gives the same SBOM"
        );
        let path = d.path().join("sbom.cdx.json");
        std::fs::write(&path, &text).unwrap();
        let out = cmd::ok(
            Command::new(&python)
                .args(["-c", CHECK])
                .arg(&path)
                .args(["2", "4", "keystone"]),
        );
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn a_root_without_image_info_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_loci"))
        .args(["sbom", "--root"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("neither project.txt nor image_info.json"),
        "{err}"
    );
}
