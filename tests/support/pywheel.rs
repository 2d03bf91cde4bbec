//! Python projects and wheels made up by the tests, without setuptools or the network: one
//! Python module ([`WHEEL_PY`]) writes a pure-Python wheel of the files it is given, and is the
//! in-tree PEP 517 backend of the test projects (pip builds them offline, as KEEP_ALL_WHEELS
//! builds do).

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// `write_wheel(directory, name, version, files)`; the PEP 517 hooks, building the wheel that
/// `wheel.json` beside the module describes (`{"name", "version", "files": {path: text}}`;
/// with `"setuptools_below": N` it imports setuptools, refuses a version N or newer, as the
/// sdists that import pkg_resources do, and uses that version for the wheel and for
/// `{setuptools}` in the files); and as a program `python3 loci_test_wheel.py DIR NAME
/// VERSION [PATH TEXT]...` it writes one wheel.
pub const WHEEL_PY: &str = r#"import base64, hashlib, json, os, sys, zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def write_wheel(directory, name, version, files):
    dist = name.replace("-", "_") + "-" + version
    contents = {path: text.encode() for path, text in files.items()}
    contents[dist + ".dist-info/METADATA"] = ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)).encode()
    contents[dist + ".dist-info/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: loci-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    wheel = dist + "-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(directory, wheel), "w") as z:
        for path, data in contents.items():
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
        record.append(dist + ".dist-info/RECORD,,")
        z.writestr(dist + ".dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open(os.path.join(HERE, "wheel.json")) as f:
        spec = json.load(f)
    version, files = spec["version"], spec["files"]
    below = spec.get("setuptools_below")
    if below is not None:
        import setuptools
        seen = setuptools.__version__
        if int(seen.split(".")[0]) >= below:
            raise RuntimeError("%s: setuptools %s has no pkg_resources" % (spec["name"], seen))
        version = seen
        files = {path: text.replace("{setuptools}", seen) for path, text in files.items()}
    return write_wheel(wheel_directory, spec["name"], version, files)


if __name__ == "__main__":
    out, name, version = sys.argv[1:4]
    rest = sys.argv[4:]
    write_wheel(out, name, version, dict(zip(rest[::2], rest[1::2])))
"#;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn tree(dir: &Path, spec: serde_json::Value, requires: &str) {
    write(&dir.join("loci_test_wheel.py"), WHEEL_PY);
    write(&dir.join("wheel.json"), &spec.to_string());
    write(
        &dir.join("pyproject.toml"),
        &format!(
            "[build-system]\nrequires = [{requires}]\nbuild-backend = \"loci_test_wheel\"\nbackend-path = [\".\"]\n"
        ),
    );
}

/// A source tree at `dir` whose wheel is `name` `version` holding `files` (path, text).
pub fn project(dir: &Path, name: &str, version: &str, files: &[(&str, &str)]) {
    let files: serde_json::Map<String, serde_json::Value> = files
        .iter()
        .map(|(p, t)| (p.to_string(), serde_json::Value::from(*t)))
        .collect();
    tree(
        dir,
        serde_json::json!({"name": name, "version": version, "files": files}),
        "",
    );
}

/// A source tree at `dir` that builds only with a setuptools older than `below` (its version
/// becomes the wheel's, and `{setuptools}` in `files` is replaced by it).
pub fn setuptools_probe(dir: &Path, name: &str, below: u32, files: &[(&str, &str)]) {
    let files: serde_json::Map<String, serde_json::Value> = files
        .iter()
        .map(|(p, t)| (p.to_string(), serde_json::Value::from(*t)))
        .collect();
    tree(
        dir,
        serde_json::json!({"name": name, "version": "0", "files": files, "setuptools_below": below}),
        "\"setuptools\"",
    );
}

/// Writes the wheel `name` `version` holding `files` (path, text) into `dir`.
pub fn wheel(dir: &Path, name: &str, version: &str, files: &[(&str, &str)]) {
    let script = dir.join(".loci_test_wheel.py");
    write(&script, WHEEL_PY);
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(dir).args([name, version]);
    for (p, t) in files {
        cmd.args([p, t]);
    }
    let out = cmd.output().expect("python3");
    assert!(
        out.status.success(),
        "writing the wheel {name} {version}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(script).unwrap();
}
