//! The software bill of materials of an image: a CycloneDX 1.6 JSON document.
//!
//! Every build writes `/etc/image_info/sbom.cdx.json` (and `loci sbom --root DIR` prints the
//! same document for an existing image root, e.g. a child image that added packages). It is
//! read from the image itself, not from the plan, so it lists what is there:
//!
//! - `metadata.component`: the image's project (PROJECT, its repository, ref and commit from
//!   `/etc/image_info/project.txt`; its version from its installed dist-info, else
//!   PROJECT_RELEASE);
//! - every Python distribution of the venv (`/var/lib/openstack`), with its licence and, when
//!   the wheels it was installed from are at hand, the SHA-256 of its wheel;
//! - every installed distro package (dpkg's status file; on RPM distros `rpm -qa` when `rpm` is
//!   on PATH) and the operating system itself;
//! - where the wheels came from (`image_info.json`'s `wheels`) as properties;
//! - dependencies: the project depends on every Python distribution of the venv, and each
//!   distribution on the installed distributions its `Requires-Dist` names.
//!
//! The document is deterministic: components are sorted by purl, the serial number is derived
//! from the content, and there is no timestamp unless SOURCE_DATE_EPOCH gives one. The base
//! image is not recorded: image_info.json does not name it (LOCI_BASE_IMAGE is not passed to
//! the build); a `base` key there would become a `loci:base` property.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value};

use crate::constraints::normalize;
use crate::error::{Error, Result};
use crate::runner::Runner;

mod cyclonedx;
mod distro;
mod facts;
mod purl;
mod python;

pub use cyclonedx::hashes_of;
use cyclonedx::{main_component, property, rfc3339, serial_number};
use distro::{distro_packages, os_label, read_os_release};
pub use facts::Facts;
use python::{python_dists, sha256_file, wheel_files, wheel_version, Dist, VENV};

/// The file name of the SBOM in the image info dir.
pub const FILE_NAME: &str = "sbom.cdx.json";

/// The CycloneDX 1.6 document of the image at `root`.
pub fn sbom(root: &Path, facts: &Facts, runner: &mut dyn Runner) -> Result<Value> {
    let os = read_os_release(root)?;
    let dists = python_dists(root)?;
    let wheels = match &facts.wheels_dir {
        Some(d) => wheel_files(d)?,
        None => BTreeMap::new(),
    };
    let packages = distro_packages(root, runner)?;

    // The project's own distribution becomes the main component, not a library.
    let project_key = normalize(&facts.project);
    let (mains, libs): (Vec<&Dist>, Vec<&Dist>) = dists
        .iter()
        .partition(|d| !project_key.is_empty() && normalize(&d.name) == project_key);
    let main_dist = mains.first().copied();

    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    let mut components: BTreeMap<String, Value> = BTreeMap::new();
    for d in &libs {
        let purl = d.purl();
        by_name.insert(normalize(&d.name), purl.clone());
        let mut c = json!({
            "type": "library",
            "bom-ref": purl,
            "name": d.name,
            "version": d.version,
            "purl": purl,
        });
        if let Some(l) = d.licenses.to_json() {
            c["licenses"] = l;
        }
        if let Some(path) = wheels.get(&(normalize(&d.name), wheel_version(&d.version))) {
            c["hashes"] = json!([{ "alg": "SHA-256", "content": sha256_file(path)? }]);
            if let Some(f) = path.file_name() {
                c["properties"] = json!([{ "name": "loci:wheel", "value": f.to_string_lossy() }]);
            }
        } else if let Some(known) = facts.known_hashes.get(&purl) {
            for key in ["hashes", "properties"] {
                if !known[key].is_null() {
                    c[key] = known[key].clone();
                }
            }
        }
        components.insert(purl, c);
    }
    let python_refs: Vec<String> = components.keys().cloned().collect();
    for p in &packages {
        let purl = p.purl(os.as_ref());
        let c = json!({
            "type": "library",
            "bom-ref": purl,
            "name": p.name,
            "version": p.version,
            "purl": purl,
        });
        components.insert(purl, c);
    }
    let mut components: Vec<Value> = components.into_values().collect();
    if let Some(os) = &os {
        let mut c = json!({
            "type": "operating-system",
            "bom-ref": format!("os:{}", os_label(os)),
            "name": os.id,
        });
        if !os.version_id.is_empty() {
            c["version"] = json!(os.version_id);
        }
        if !os.pretty_name.is_empty() {
            c["description"] = json!(os.pretty_name);
        }
        components.push(c);
    }

    let main = main_component(facts, main_dist);
    let main_ref = main["bom-ref"].as_str().unwrap_or_default().to_string();
    let mut dependencies = vec![json!({ "ref": main_ref, "dependsOn": python_refs })];
    for d in &libs {
        let own = d.purl();
        let on: BTreeSet<&String> = d
            .requires
            .iter()
            .filter_map(|n| by_name.get(n))
            .filter(|r| **r != own)
            .collect();
        dependencies.push(json!({ "ref": own, "dependsOn": on }));
    }
    dependencies.sort_by(|a, b| a["ref"].as_str().cmp(&b["ref"].as_str()));

    let mut metadata = json!({
        "tools": { "components": [{
            "type": "application",
            "name": "loci",
            "version": env!("CARGO_PKG_VERSION"),
            "externalReferences": [{ "type": "vcs", "url": env!("CARGO_PKG_REPOSITORY") }],
        }]},
        "component": main,
    });
    if let Some(t) = facts.source_date_epoch {
        metadata["timestamp"] = json!(rfc3339(t));
    }
    let mut properties = Vec::new();
    if let Some(d) = &facts.distro {
        properties.push(property("loci:distro", d));
    }
    if let Some(a) = &facts.architecture {
        properties.push(property("loci:architecture", a));
    }
    if let Some(w) = &facts.wheels {
        if let Some(kind) = w["kind"].as_str() {
            properties.push(property("loci:wheels.kind", kind));
        }
        match &w["location"] {
            Value::Null => {}
            Value::String(s) => properties.push(property("loci:wheels.location", s)),
            // Mounted: {image, path}; Index: {constraints}.
            Value::Object(m) => {
                for (k, v) in m {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    properties.push(property(&format!("loci:wheels.{k}"), &v));
                }
            }
            other => properties.push(property("loci:wheels.location", &other.to_string())),
        }
    }
    if let Some(b) = &facts.base {
        properties.push(property("loci:base", b));
    }
    properties.push(property("loci:venv", &format!("/{VENV}")));
    metadata["properties"] = json!(properties);

    let mut doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": dependencies,
    });
    doc["serialNumber"] = json!(serial_number(&doc));
    Ok(doc)
}

/// The SBOM as pretty-printed JSON text (ends with a newline).
pub fn render(root: &Path, facts: &Facts, runner: &mut dyn Runner) -> Result<String> {
    let mut text = serde_json::to_string_pretty(&sbom(root, facts, runner)?)
        .map_err(|e| Error::new("cannot render the SBOM as JSON").caused_by(e))?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::cyclonedx::*;
    use super::distro::*;
    use super::*;
    use crate::os_release::OsRelease;
    use sha2::{Digest, Sha256};
    use std::path::PathBuf;

    /// A runner for roots without an RPM database: nothing runs.
    fn runner() -> crate::runner::RecordingRunner {
        crate::runner::RecordingRunner::default()
    }

    const WHEEL_BYTES: &[u8] = b"not really a zip, but bytes to hash";

    /// A fake image root: two dists (one with a wheel), the project's dist, a dpkg status with
    /// two installed packages and one removed, an os-release and /etc/image_info.
    fn fake_root() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let sp = root.join("var/lib/openstack/lib/python3.11/site-packages");
        let dist = |dir: &str, meta: &str| {
            let p = sp.join(dir);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("METADATA"), meta).unwrap();
        };
        dist(
            "oslo.config-9.4.0.dist-info",
            "Metadata-Version: 2.4\nName: oslo.config\nVersion: 9.4.0\nLicense-Expression: Apache-2.0\n\
             Requires-Dist: PyYAML>=5.1\nRequires-Dist: sphinx; extra == \"docs\"\n\
             Requires-Dist: stevedore ; python_version >= \"3.8\"\n\nThe description.\nName: not-a-header\n",
        );
        dist(
            "PyYAML-6.0.1.dist-info",
            "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.1\nLicense: MIT\n\
             Classifier: License :: OSI Approved :: MIT License\nClassifier: Programming Language :: Python\n",
        );
        dist(
            "keystone-27.0.0.dist-info",
            "Metadata-Version: 2.1\nName: keystone\nVersion: 27.0.0\nRequires-Dist: oslo.config>=6.8.0\n",
        );
        let wheels = d.path().join("wheels");
        std::fs::create_dir_all(&wheels).unwrap();
        std::fs::write(
            wheels.join("oslo_config-9.4.0-py3-none-any.whl"),
            WHEEL_BYTES,
        )
        .unwrap();
        std::fs::write(wheels.join("oslo_config-9.3.0-py3-none-any.whl"), b"older").unwrap();
        std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
        std::fs::write(
            root.join("var/lib/dpkg/status"),
            "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\nDescription: GNU C Library\n continued\n\n\
             Package: old-thing\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\n\
             Package: libstdc++6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.2.0-14\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("etc/image_info")).unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/image_info/project.txt"),
            "PROJECT=keystone\nPROJECT_REPO=https://opendev.org/openstack/keystone\nPROJECT_REF=stable/2025.1\n\
             PROJECT_RELEASE=2025.1\ncommit 0123456789abcdef0123456789abcdef01234567\nAuthor: t <t@example.com>\n\
             Date:   1700000000 +0000\n\n    A commit\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/image_info/image_info.json"),
            r#"{"project":"keystone","distro":"debian-bookworm","architecture":"arm64","wheels":{"kind":"image","location":"quay.io/x/requirements:2025.1"}}"#,
        )
        .unwrap();
        (d, root)
    }

    fn facts(root: &Path) -> Facts {
        let mut f = Facts::read(&root.join("etc/image_info")).unwrap();
        f.wheels_dir = Some(root.parent().unwrap().join("wheels"));
        f
    }

    fn component<'a>(doc: &'a Value, purl: &str) -> &'a Value {
        doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["purl"] == purl)
            .unwrap_or_else(|| panic!("no component {purl} in {doc:#}"))
    }

    #[test]
    fn facts_come_from_project_txt_and_image_info_json() {
        let (_d, root) = fake_root();
        let f = facts(&root);
        assert_eq!(f.project, "keystone");
        assert_eq!(f.project_ref, "stable/2025.1");
        assert_eq!(f.project_release, "2025.1");
        assert_eq!(
            f.project_commit.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(f.distro.as_deref(), Some("debian-bookworm"));
        assert_eq!(f.architecture.as_deref(), Some("arm64"));
        assert_eq!(f.wheels.as_ref().unwrap()["kind"], "image");
    }

    #[test]
    fn an_image_without_image_info_is_an_error_with_a_hint() {
        let d = tempfile::tempdir().unwrap();
        let e = Facts::read(d.path()).unwrap_err();
        assert!(e.what.contains("neither project.txt nor image_info.json"));
        assert!(e.hint.unwrap().contains("--root"));
    }

    #[test]
    fn the_document_lists_the_venv_and_the_distro_packages() {
        let (_d, root) = fake_root();
        let doc = sbom(&root, &facts(&root), &mut runner()).unwrap();
        assert_eq!(doc["bomFormat"], "CycloneDX");
        assert_eq!(doc["specVersion"], "1.6");
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["metadata"]["tools"]["components"][0]["name"], "loci");
        assert!(doc["metadata"].get("timestamp").is_none());

        let oslo = component(&doc, "pkg:pypi/oslo-config@9.4.0");
        assert_eq!(oslo["name"], "oslo.config");
        assert_eq!(oslo["type"], "library");
        assert_eq!(oslo["licenses"], json!([{ "expression": "Apache-2.0" }]));
        let want = hex::encode(Sha256::digest(WHEEL_BYTES));
        assert_eq!(
            oslo["hashes"],
            json!([{ "alg": "SHA-256", "content": want }])
        );
        let yaml = component(&doc, "pkg:pypi/pyyaml@6.0.1");
        assert_eq!(
            yaml["licenses"],
            json!([{ "license": { "name": "MIT" } }, { "license": { "name": "MIT License" } }])
        );
        assert!(yaml.get("hashes").is_none(), "no wheel of PyYAML was given");

        component(
            &doc,
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
        );
        component(
            &doc,
            "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12",
        );
        let text = doc.to_string();
        assert!(
            !text.contains("old-thing"),
            "removed packages are not listed"
        );
        assert!(!text.contains("not-a-header"));

        let purls: Vec<&str> = doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["purl"].as_str())
            .collect();
        let mut sorted = purls.clone();
        sorted.sort();
        assert_eq!(purls, sorted, "components are sorted by purl");
        assert_eq!(
            purls.len(),
            4,
            "the project is the main component: {purls:?}"
        );
        let os = doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "operating-system")
            .unwrap();
        assert_eq!(os["name"], "debian");
        assert_eq!(os["version"], "12");
    }

    #[test]
    fn the_project_is_the_main_component() {
        let (_d, root) = fake_root();
        let doc = sbom(&root, &facts(&root), &mut runner()).unwrap();
        let main = &doc["metadata"]["component"];
        assert_eq!(main["type"], "application");
        assert_eq!(main["name"], "keystone");
        assert_eq!(main["version"], "27.0.0");
        assert_eq!(main["purl"], "pkg:pypi/keystone@27.0.0");
        assert_eq!(
            main["externalReferences"],
            json!([{ "type": "vcs", "url": "https://opendev.org/openstack/keystone" }])
        );
        let props = main["properties"].to_string();
        assert!(props.contains("stable/2025.1"), "{props}");
        assert!(props.contains("0123456789abcdef0123456789abcdef01234567"));
        let meta = doc["metadata"]["properties"].to_string();
        assert!(meta.contains("quay.io/x/requirements:2025.1"), "{meta}");
        assert!(meta.contains("debian-bookworm"));
        assert!(
            meta.contains(r#"{"name":"loci:architecture","value":"arm64"}"#),
            "{meta}"
        );

        // Without its dist-info the version is PROJECT_RELEASE.
        std::fs::remove_dir_all(
            root.join("var/lib/openstack/lib/python3.11/site-packages/keystone-27.0.0.dist-info"),
        )
        .unwrap();
        let doc = sbom(&root, &facts(&root), &mut runner()).unwrap();
        assert_eq!(doc["metadata"]["component"]["version"], "2025.1");
        assert_eq!(
            doc["metadata"]["component"]["bom-ref"],
            "loci:project:keystone"
        );
    }

    #[test]
    fn dependencies_follow_requires_dist() {
        let (_d, root) = fake_root();
        let doc = sbom(&root, &facts(&root), &mut runner()).unwrap();
        let deps = doc["dependencies"].as_array().unwrap();
        let on = |r: &str| {
            deps.iter()
                .find(|d| d["ref"] == r)
                .unwrap_or_else(|| panic!("no dependency entry for {r}"))["dependsOn"]
                .clone()
        };
        assert_eq!(
            on("pkg:pypi/keystone@27.0.0"),
            json!(["pkg:pypi/oslo-config@9.4.0", "pkg:pypi/pyyaml@6.0.1"])
        );
        // PyYAML is installed, sphinx (an extra) and stevedore are not.
        assert_eq!(
            on("pkg:pypi/oslo-config@9.4.0"),
            json!(["pkg:pypi/pyyaml@6.0.1"])
        );
        assert_eq!(on("pkg:pypi/pyyaml@6.0.1"), json!([]));
    }

    #[test]
    fn the_document_is_deterministic() {
        let (_d, root) = fake_root();
        let a = render(&root, &facts(&root), &mut runner()).unwrap();
        let b = render(&root, &facts(&root), &mut runner()).unwrap();
        assert_eq!(a, b);
        let doc: Value = serde_json::from_str(&a).unwrap();
        let serial = doc["serialNumber"].as_str().unwrap();
        assert!(serial.starts_with("urn:uuid:"));
        let uuid = &serial["urn:uuid:".len()..];
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "5");
        assert!("89ab".contains(&uuid[19..20]));

        // Another image, another serial number.
        std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
        let c: Value =
            serde_json::from_str(&render(&root, &facts(&root), &mut runner()).unwrap()).unwrap();
        assert_ne!(c["serialNumber"], doc["serialNumber"]);
    }

    #[test]
    fn source_date_epoch_gives_the_timestamp() {
        let (_d, root) = fake_root();
        let mut f = facts(&root);
        f.source_date_epoch = Some(1_700_000_000);
        let doc = sbom(&root, &f, &mut runner()).unwrap();
        assert_eq!(doc["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn an_empty_root_gives_a_document_with_the_project_alone() {
        let d = tempfile::tempdir().unwrap();
        let f = Facts {
            project: "nova".into(),
            ..Facts::default()
        };
        let doc = sbom(d.path(), &f, &mut runner()).unwrap();
        assert_eq!(doc["components"], json!([]));
        assert_eq!(doc["metadata"]["component"]["name"], "nova");
    }

    #[test]
    fn rpm_lists_are_parsed() {
        let p = parse_rpm_list(
            "bash\t0\t5.1.8-9.el9\tx86_64\ngpg-pubkey\t0\t1-2\t(none)\nopenssl-libs\t1\t3.0.7-27.el9\tx86_64\n",
        );
        assert_eq!(p.len(), 2);
        let os = OsRelease::parse("ID=rocky\nVERSION_ID=9.4\n");
        assert_eq!(
            p[1].purl(Some(&os)),
            "pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rocky-9.4&epoch=1"
        );
        assert_eq!(
            p[0].purl(Some(&os)),
            "pkg:rpm/rocky/bash@5.1.8-9.el9?arch=x86_64&distro=rocky-9.4"
        );
    }

    #[test]
    fn an_rpm_root_lists_its_packages_through_the_runner_given() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("var/lib/rpm")).unwrap();
        let mut r = crate::runner::RecordingRunner {
            answer: "bash\t0\t5.1.8-9.el9\tx86_64\n".into(),
            ..Default::default()
        };
        let f = Facts {
            project: "nova".into(),
            ..Facts::default()
        };
        let doc = sbom(d.path(), &f, &mut r).unwrap();
        assert_eq!(r.commands.len(), 1, "{:?}", r.commands);
        assert_eq!(
            r.commands[0].to_string(),
            format!(
                "rpm --root {} -qa --qf '%{{NAME}}\\t%{{EPOCHNUM}}\\t%{{VERSION}}-%{{RELEASE}}\\t%{{ARCH}}\\n'",
                d.path().display()
            )
        );
        let names: Vec<&str> = doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert!(names.contains(&"bash"), "{names:?}");
        // Without an RPM database nothing runs.
        let mut none = runner();
        sbom(tempfile::tempdir().unwrap().path(), &f, &mut none).unwrap();
        assert!(none.commands.is_empty());
    }
}
