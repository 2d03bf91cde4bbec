//! End to end: the Debian base image, a requirements image left in the engine's local image
//! store, keystone built from a git tag with the project's Dockerfile (target `project`, LOCI
//! master's default) mounting that image as WHEELS, then run:
//! db_sync on sqlite, bootstrap, uwsgi serving keystone on 127.0.0.1, and a token issued. The
//! image is checked for lightness, and a child image built FROM it still issues tokens.
//!
//! Needs Docker and the network of the test machines (Debian archive, PyPI): run it with
//! `sudo tests/run.sh` (a plain `cargo test` lists it as ignored).
//!
//! The requirements image is restricted to keystone's dependency closure plus uwsgi (and what
//! LOCI master's keystone job adds) to fit CI's time (REQUIREMENTS_ONLY_FILE with
//! tests/fixtures/requirements/keystone-2026.1-closure.txt and keystone-job-2026.1-extras.txt);
//! the full build is one flag away: LOCI_E2E_FULL_REQUIREMENTS=1 tests/run.sh.

#[path = "support/e2e.rs"]
mod e2e;

use std::fs;

use e2e::*;

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn keystone_from_a_git_tag_with_a_local_wheels_image_issues_tokens() {
    require_docker();
    let _guard = lock();
    let base = base_image();
    eprintln!("base image: {base}");

    // b. requirements, only in the local image store (no registry): BuildKit mounts it.
    let requirements = requirements_image();
    let wheels_ref = "loci-test/requirements:local".to_string();
    check(docker().args(["tag", &requirements, &wheels_ref]));

    // c. keystone from its sdist as a git repository, served by git daemon, built at the tag.
    let repos = tempfile::tempdir().unwrap();
    let (repo, tag) = keystone_repo(repos.path());
    let tag_commit = rev_parse(&repo, &tag);
    let daemon = git_daemon(repos.path());
    let project_repo = format!("git://127.0.0.1:{}/keystone", daemon.port);
    let ctx = Context::new();
    let image = "loci-test/keystone:2026.1";
    let mut args = ctx.args(
        &base,
        &[
            ("PROJECT", "keystone"),
            ("PROJECT_REPO", &project_repo),
            ("PROJECT_REF", &tag),
            ("PROJECT_RELEASE", "2026.1"),
            ("WHEELS", &wheels_ref),
        ],
    );
    args.extend([
        "--target".into(),
        "project".into(),
        "-t".into(),
        image.to_string(),
    ]);
    docker_build("keystone", &args, ctx.path());
    drop(daemon);

    let labels = stdout(docker().args([
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        image,
    ]));
    assert!(
        labels.contains("\"org.opencontainers.image.title\":\"keystone\""),
        "{labels}"
    );
    assert!(
        labels.contains(&format!("\"org.opencontainers.image.revision\":\"{tag}\"")),
        "{labels}"
    );
    let project_txt = sh_in(image, "cat /etc/image_info/project.txt");
    assert!(
        project_txt.contains(&tag_commit),
        "project.txt does not name {tag_commit}:\n{project_txt}"
    );
    // The recorded inputs name the commit the tag resolved to, and the base as given.
    let inputs = sh_in(image, "cat /etc/image_info/inputs.env");
    for line in [
        format!("PROJECT_REF={tag_commit}"),
        format!("FROM={base}"),
        format!("WHEELS={wheels_ref}"),
    ] {
        assert!(
            inputs.lines().any(|l| l == line),
            "inputs.env has no line {line}:\n{inputs}"
        );
    }

    // d. it works: a token for the admin user.
    {
        let ks = Keystone::start(image);
        let (status, token) = ks.issue_token();
        assert_eq!(
            status,
            201,
            "POST /v3/auth/tokens answered {status}; logs:\n{}",
            ks.logs()
        );
        let token = token.expect("no X-Subject-Token header");
        assert!(token.len() > 20, "token {token:?}");
        println!("keystone at {tag} issued a token ({} bytes)", token.len());
    }

    // f. lightweight.
    report_image(image);
    let leftovers = sh_in(
        image,
        r#"for c in gcc cc c++ make git; do command -v "$c" && echo "LEFT: $c"; done
dpkg-query -W -f '${Package}\n' | grep -E -- '-dev(:|$)' | sed 's/^/LEFT dev package: /'
find / -xdev \( -name '*.pyc' -o -name __pycache__ \) -print | head -5 | sed 's/^/LEFT bytecode: /'
for p in perl gcc cpp; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' && echo "LEFT package: $p"; done
for p in /root/.cache/pip /root/.cache /opt/loci /mnt/loci /mnt/cache /usr/local/bin/loci /tmp/wheels /tmp/keystone /var/lib/apt/lists/lock /var/lib/openstack/bin/uv; do
    [ -e "$p" ] && echo "LEFT: $p"
done
ls -A /tmp | sed 's/^/LEFT in tmp: /'
find / -xdev -type f -name loci -print | sed 's/^/LEFT binary: /'
find /var/cache/apt /var/lib/apt/lists -type f \( -name '*.deb' -o -name '*_Packages*' \) | sed 's/^/LEFT apt cache: /'
true"#,
    );
    assert!(
        !leftovers.contains("LEFT"),
        "the keystone image is not clean:\n{leftovers}"
    );

    // f2. the SBOM lists exactly the Python distributions and Debian packages of the image.
    check_sbom(image);

    // g. a child image with one more Debian package, installed with `loci packages` from the
    // bind-mounted binary, still issues tokens.
    let child_ctx = tempfile::tempdir().unwrap();
    fs::write(
        child_ctx.path().join("Dockerfile"),
        "ARG FROM\nARG LOCI_IMAGE\nFROM ${LOCI_IMAGE} AS loci\nFROM ${FROM}\nUSER root\n\
         RUN --mount=type=bind,from=loci,target=/mnt /mnt/loci packages jq && /mnt/loci cleanup\n",
    )
    .unwrap();
    let child = "loci-test/keystone-child:2026.1";
    let mut args = build_args(&[("FROM", image), ("LOCI_IMAGE", &loci_image())]);
    args.extend(["-t".to_string(), child.to_string()]);
    docker_build("keystone-child", &args, child_ctx.path());
    let jq = sh_in(child, "jq --version && dpkg-query -W -f '${Status}' jq");
    assert!(jq.contains("install ok installed"), "{jq}");
    let venv_ok = sh_in(
        child,
        "python3 -c 'import keystone, sys; print(sys.prefix)'",
    );
    assert_eq!(venv_ok, "/var/lib/openstack");
    assert_issues_tokens(child);
    report_image(child);

    // h. a plugin FROM the keystone image (LOCI's PLUGIN=yes), from a git tag: the keystone
    // image holds no git (purged at its cleanup), and pbr needs git to version a clone; the
    // plugin's build installs it and purges it again, and installs the plugin into keystone's
    // venv from the clone. python-keystoneclient stands in for a plugin: a pbr project whose
    // dependencies the requirements image holds.
    let plugin_sdist = pypi_sdist("", "python_keystoneclient-", "python-keystoneclient==5.8.0");
    let plugin_repos = tempfile::tempdir().unwrap();
    let (_, plugin_tag) = sdist_repo(plugin_repos.path(), "python-keystoneclient", &plugin_sdist);
    let daemon = git_daemon(plugin_repos.path());
    let plugin_ctx = Context::new();
    let plugin = "loci-test/keystone-plugin:2026.1";
    let mut args = plugin_ctx.args(
        image,
        &[
            ("PROJECT", "python-keystoneclient"),
            ("PLUGIN", "yes"),
            (
                "PROJECT_REPO",
                &format!("git://127.0.0.1:{}/python-keystoneclient", daemon.port),
            ),
            ("PROJECT_REF", &plugin_tag),
            ("PROJECT_RELEASE", "2026.1"),
            ("WHEELS", &wheels_ref),
        ],
    );
    args.extend([
        "--target".into(),
        "project".into(),
        "-t".into(),
        plugin.to_string(),
    ]);
    docker_build("keystone-plugin", &args, plugin_ctx.path());
    drop(daemon);
    let installed = sh_in(
        plugin,
        "/var/lib/openstack/bin/python -c 'import importlib.metadata as m; \
         d = m.distribution(\"python-keystoneclient\"); print(d.version); \
         print(d.read_text(\"direct_url.json\"))'; \
         command -v git || echo 'no git'; \
         /var/lib/openstack/bin/python -c 'import keystone; print(\"keystone ok\")'",
    );
    assert!(
        installed.starts_with(&format!("{plugin_tag}\n")),
        "the plugin's version is not its tag {plugin_tag}:\n{installed}"
    );
    assert!(
        installed.contains("/tmp/python-keystoneclient"),
        "the plugin was not installed from its clone:\n{installed}"
    );
    assert!(
        installed.contains("no git") && installed.contains("keystone ok"),
        "{installed}"
    );
    report_image(plugin);
}

/// /etc/image_info/sbom.cdx.json against `pip freeze` and `dpkg-query` in the image: nothing
/// missing, nothing extra; the project is the main component with its commit.
fn check_sbom(image: &str) {
    use std::collections::BTreeSet;
    let doc: serde_json::Value =
        serde_json::from_str(&sh_in(image, "cat /etc/image_info/sbom.cdx.json")).unwrap();
    assert_eq!(doc["bomFormat"], "CycloneDX");
    assert_eq!(doc["specVersion"], "1.6");
    assert_eq!(doc["metadata"]["component"]["name"], "keystone");
    // `name==version` with the name as PEP 503 normalises it.
    let norm = |entry: &str| {
        let (name, version) = entry.split_once("==").unwrap_or((entry, ""));
        format!(
            "{}=={version}",
            name.to_ascii_lowercase().replace(['_', '.'], "-")
        )
    };
    let mut pypi = BTreeSet::new();
    let mut deb = BTreeSet::new();
    let mut hashed = 0;
    for c in doc["components"].as_array().unwrap() {
        let purl = c["purl"].as_str().unwrap_or("");
        let entry = format!(
            "{}=={}",
            c["name"].as_str().unwrap(),
            c["version"].as_str().unwrap_or("")
        );
        if purl.starts_with("pkg:pypi/") {
            pypi.insert(norm(&entry));
            hashed += usize::from(!c["hashes"].is_null());
        } else if purl.starts_with("pkg:deb/") {
            deb.insert(entry);
        }
    }
    // keystone itself is the main component (`keystone @ file:///tmp/keystone` in the freeze).
    let freeze: BTreeSet<String> = sh_in(image, "/var/lib/openstack/bin/pip freeze --all")
        .lines()
        .filter(|l| !l.starts_with("keystone ") && !l.starts_with("keystone=="))
        .map(norm)
        .collect();
    assert_eq!(
        pypi, freeze,
        "the SBOM's Python components differ from pip freeze"
    );
    let dpkg: BTreeSet<String> = sh_in(
        image,
        "dpkg-query -W -f '${db:Status-Status} ${Package}==${Version}\n' | sed -n 's/^installed //p'",
    )
    .lines()
    .map(String::from)
    .collect();
    assert_eq!(
        deb, dpkg,
        "the SBOM's Debian packages differ from dpkg-query"
    );
    // The wheels came from the requirements image (keystone's closure): they have their
    // hashes (pip, setuptools and wheel come from PyPI).
    assert!(
        hashed > 50,
        "only {hashed} of {} Python components have a wheel hash",
        pypi.len()
    );
    let oslo = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "oslo.config")
        .expect("oslo.config in the SBOM");
    assert_eq!(oslo["hashes"][0]["alg"], "SHA-256", "{oslo}");
    record(&format!(
        "keystone SBOM: {} Python distributions ({hashed} with wheel hashes), {} Debian packages",
        pypi.len(),
        deb.len()
    ));
}

/// Prints the image size and the size of each layer.
fn report_image(image: &str) {
    let size = stdout(docker().args(["image", "inspect", "--format", "{{.Size}}", image]));
    let bytes: u64 = size.parse().unwrap_or(0);
    record(&format!(
        "E2E-IMAGE-SIZE {image} {bytes} bytes ({:.1} MB)",
        bytes as f64 / 1e6
    ));
    let history = stdout(docker().args([
        "history",
        "--no-trunc",
        "--format",
        "{{.Size}}\t{{.CreatedBy}}",
        image,
    ]));
    for line in history.lines() {
        let (size, by) = line.split_once('\t').unwrap_or((line, ""));
        if size == "0B" {
            continue; // ARG, ENV, LABEL: metadata only
        }
        let by: String = by.chars().take(110).collect();
        record(&format!("    layer {size:>9}  {by}"));
    }
}
