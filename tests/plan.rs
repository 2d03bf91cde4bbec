//! Plan-level tests: `loci plan --json` for every supported distro, through the real binary.
//!
//! Only Debian can be built for real on the test machines; these tests prove that the plan for
//! Ubuntu and the rpm distros has the right package manager, package names and commands.

#[path = "support/cmd.rs"]
mod cmd;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/os-release")
        .join(name)
}

/// Runs `loci plan --json` for `distro` with a clean environment plus `env`.
fn plan(distro: &str, env: &[(&str, &str)]) -> Value {
    let out = cmd::succeeded(
        format!("loci plan for {distro} {env:?}"),
        plan_raw(distro, env),
    );
    serde_json::from_slice(&out.stdout).expect("plan is JSON")
}

fn plan_raw(distro: &str, env: &[(&str, &str)]) -> std::process::Output {
    plan_stage_raw(distro, "project", env)
}

fn step_names(plan: &Value) -> Vec<String> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

fn step<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {:?}", step_names(plan)))
}

fn argv(cmd: &Value) -> Vec<String> {
    let mut v = vec![cmd["program"].as_str().unwrap().to_string()];
    v.extend(
        cmd["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string()),
    );
    v
}

/// The argument vectors (program first) of the step's commands; a package install counts as
/// its index refresh followed by its install command.
fn commands(step: &Value) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for a in step["actions"].as_array().unwrap() {
        if a["action"] == "run" {
            out.push(argv(&a["cmd"]));
        } else if a["action"] == "purge_packages" {
            out.push(argv(&a["purge"]));
        } else if a["action"] == "prefer_offline" {
            out.push(argv(&a["offline"]));
        } else if a["action"] == "bootstrap_pip" {
            out.push(argv(&a["install"]));
        } else if a["action"] == "install_packages" {
            if !a["refresh"].is_null() {
                out.push(argv(&a["refresh"]));
            }
            out.push(argv(&a["install"]));
        }
    }
    out
}

fn packages(step: &Value) -> Vec<String> {
    step["packages"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn has(list: &[String], item: &str) -> bool {
    list.iter().any(|x| x == item)
}

const KEYSTONE: &[(&str, &str)] = &[("PROJECT", "keystone"), ("WHEELS", "/wheels.tar.gz")];

#[test]
fn debian_bookworm_keystone() {
    let p = plan("debian-bookworm", KEYSTONE);
    assert_eq!(p["distro"]["id"], "debian");
    assert_eq!(p["distro"]["codename"], "bookworm");
    assert_eq!(
        step_names(&p),
        [
            "wheels",
            "preflight",
            "base",
            "user",
            "venv",
            "packages",
            "pydep",
            "source",
            "install",
            "coverage",
            "info",
            "cleanup",
            "seal"
        ]
    );
    // The install is checked against the tree it was made from.
    let coverage = &step(&p, "coverage")["actions"][0];
    assert_eq!(coverage["action"], "check_install_coverage");
    assert_eq!(coverage["venv"], "/var/lib/openstack");
    assert_eq!(coverage["trees"], serde_json::json!(["/tmp/keystone"]));
    let base = step(&p, "base");
    assert_eq!(base["actions"][0]["action"], "install_packages");
    let cmds = commands(base);
    assert_eq!(
        cmds[0],
        ["apt-get", "update"],
        "the index is refreshed before installing"
    );
    assert_eq!(
        &cmds[1][..4],
        ["apt-get", "install", "-y", "--no-install-recommends"]
    );
    assert!(
        !has(&cmds[1], "patch"),
        "nothing patches: patch is not installed"
    );
    for pkg in [
        "ca-certificates",
        "netbase",
        "sudo",
        "lsb-release",
        "python3",
        "python3-venv",
        "python3-distutils",
        "libpython3.11",
    ] {
        assert!(has(&cmds[1], pkg), "{pkg} missing from {:?}", cmds[1]);
    }
    // git (for pbr: the source is cloned, .git and all) comes in the same apt-get install as
    // the project's packages: one transaction, and purged at cleanup.
    assert!(!has(&cmds[1], "git"), "{:?}", cmds[1]);
    let pk = commands(step(&p, "packages"));
    assert!(
        has(&pk[1], "git") && has(&pk[1], "libxml2"),
        "git and bindep's packages in one apt-get install: {:?}",
        pk[1]
    );
    // Every apt-get install is non-interactive.
    assert!(base["actions"][0]["install"]["env"]
        .to_string()
        .contains("DEBIAN_FRONTEND"));

    let wheels = &step(&p, "wheels")["actions"];
    assert_eq!(wheels[0]["action"], "fetch_wheels");
    assert_eq!(wheels[0]["source"]["kind"], "tarball");
    assert_eq!(wheels[0]["dest"], "/tmp/wheels");
    assert_eq!(wheels[1]["action"], "prepare_constraints");
    assert_eq!(wheels[1]["project"], "keystone");

    let user = &step(&p, "user")["actions"][0]["user"];
    assert_eq!(user["name"], "keystone");
    assert_eq!(user["uid"], 42424);
    assert_eq!(user["gid"], 42424);
    assert_eq!(user["home"], "/var/lib/keystone");
    assert_eq!(user["shell"], "/usr/sbin/nologin");
    assert_eq!(user["comment"], "keystone user");
    assert_eq!(
        user["dirs"],
        serde_json::json!([
            "/etc/keystone",
            "/var/log/keystone",
            "/var/lib/keystone",
            "/var/cache/keystone"
        ])
    );

    // INSTALLER=uv, the default: the build's uv (from the wheels) outside the venv, a venv
    // without ensurepip's pip, and the toolchain from the wheels alone when they hold it.
    let venv_step = step(&p, "venv");
    assert_eq!(venv_step["actions"][0]["action"], "provide_uv");
    assert_eq!(venv_step["actions"][0]["dir"], "/tmp/loci-uv");
    assert_eq!(venv_step["actions"][0]["wheels"], "/tmp/wheels");
    let venv = commands(venv_step);
    assert_eq!(
        venv[0],
        [
            "python3",
            "-m",
            "venv",
            "--without-pip",
            "/var/lib/openstack"
        ]
    );
    assert_eq!(
        venv[1][..],
        [
            "/tmp/loci-uv/bin/uv",
            "pip",
            "install",
            "--python",
            "/var/lib/openstack/bin/python",
            "--no-cache",
            "-c",
            "/tmp/upper-constraints.txt",
            "--find-links",
            "/tmp/wheels",
            "pip",
            "setuptools<81",
            "wheel",
            "bindep",
            "pkginfo",
            "--no-index"
        ],
        "LOCI master's setuptools cap by default; bindep and pkginfo for child images"
    );
    assert_eq!(
        venv_step["actions"][2]["online"]["args"]
            .as_array()
            .unwrap()
            .last()
            .unwrap(),
        "pkginfo"
    );
    assert!(
        !commands(step(&p, "cleanup"))
            .iter()
            .any(|c| has(c, "uninstall")),
        "the cleanup keeps the tools"
    );

    // Before the first change to the system: every package name is looked up, each with
    // where it came from.
    let pre = &step(&p, "preflight")["actions"][0];
    assert_eq!(pre["action"], "check_packages");
    assert_eq!(pre["refresh"]["program"], "apt-get");
    let wanted = pre["packages"].as_array().unwrap();
    let origin = |name: &str| {
        wanted
            .iter()
            .find(|w| w["name"] == name)
            .unwrap_or_else(|| panic!("{name} not checked: {wanted:?}"))["origin"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(origin("git"), "loci's base packages for debian-bookworm");
    assert!(
        origin("libxml2").starts_with("bindep.txt (built into loci):"),
        "{}",
        origin("libxml2")
    );
    let bindep_line: usize = origin("libxml2")
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let embedded = include_str!("../bindep.txt");
    assert!(
        embedded
            .lines()
            .nth(bindep_line - 1)
            .unwrap()
            .starts_with("libxml2 "),
        "line {bindep_line} of bindep.txt is libxml2's"
    );
    let every: Vec<String> = ["base", "packages"]
        .iter()
        .flat_map(|s| packages(step(&p, s)))
        .collect();
    for pkg in &every {
        assert!(
            wanted.iter().any(|w| w["name"] == pkg.as_str()),
            "{pkg} is installed but not checked"
        );
    }

    let pydep = step(&p, "pydep");
    for pkg in ["pymysql", "python-memcached", "uwsgi"] {
        assert!(
            has(&packages(pydep), pkg),
            "{pkg} not in pydep {:?}",
            packages(pydep)
        );
    }
    assert!(
        !has(&packages(pydep), "cryptography"),
        "placement-only pydep leaked in"
    );

    let source = &step(&p, "source")["actions"][0];
    assert_eq!(source["action"], "git_clone");
    assert_eq!(source["repo"], "https://opendev.org/openstack/keystone");
    assert_eq!(source["reference"], "master");
    assert_eq!(source["dest"], "/tmp/keystone");

    let install = &commands(step(&p, "install"))[0];
    assert_eq!(
        install[..],
        [
            "/tmp/loci-uv/bin/uv",
            "pip",
            "install",
            "--python",
            "/var/lib/openstack/bin/python",
            "--no-cache",
            "--only-binary",
            ":all:",
            "--no-binary",
            "keystone",
            "-c",
            "/tmp/global-requirements.txt",
            "-c",
            "/tmp/upper-constraints.txt",
            "--find-links",
            "/tmp/wheels",
            "/tmp/keystone",
        ]
    );
    // INSTALLER=pip: LOCI's installs.
    let lp = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "keystone"),
            ("WHEELS", "/wheels.tar.gz"),
            ("INSTALLER", "pip"),
        ],
    );
    let venv = commands(step(&lp, "venv"));
    assert_eq!(venv[0], ["python3", "-m", "venv", "/var/lib/openstack"]);
    assert_eq!(
        &venv[1][..3],
        ["/var/lib/openstack/bin/pip", "install", "--upgrade"]
    );
    let install = &commands(step(&lp, "install"))[0];
    assert_eq!(
        install[..],
        [
            "/var/lib/openstack/bin/pip",
            "install",
            "--no-cache-dir",
            "--only-binary",
            ":all:",
            "--no-compile",
            "-c",
            "/tmp/global-requirements.txt",
            "-c",
            "/tmp/upper-constraints.txt",
            "--find-links",
            "/tmp/wheels",
            "--ignore-installed",
            "/tmp/keystone",
        ]
    );

    let cleanup = step(&p, "cleanup");
    let cc = commands(cleanup);
    assert_eq!(
        cc[0],
        [
            "apt-get",
            "purge",
            "-y",
            "--auto-remove",
            "-o",
            "APT::AutoRemove::RecommendsImportant=false",
            "-o",
            "APT::AutoRemove::SuggestsImportant=false",
            "git",
            "patch"
        ]
    );
    assert_eq!(cc[1], ["apt-get", "clean"]);
    let actions: Vec<&str> = cleanup["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"system_site_packages"));
    assert!(actions.contains(&"delete_bytecode"));
    let removed: Vec<String> = cleanup["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "remove")
        .flat_map(|a| {
            a["paths"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
        })
        .collect();
    for path in [
        "/var/lib/apt/lists",
        "/var/cache/apt/pkgcache.bin",
        "/var/log/dpkg.log",
        "/var/cache/ldconfig/aux-cache",
        "/tmp",
        "/root/.cache",
        "/etc/machine-id",
        "/opt/loci",
    ] {
        assert!(has(&removed, path), "{path} not cleaned: {removed:?}");
    }
}

#[test]
fn venv_tools_choose_what_stays_in_the_venv_and_uv_never_needs_removing() {
    let installs = |p: &Value| commands(step(p, "venv"))[1].clone();
    let uninstalls = |p: &Value| {
        commands(step(p, "cleanup"))
            .iter()
            .any(|c| has(c, "uninstall"))
    };
    // No tools at all: the venv gets only its pip toolchain.
    for installer in ["uv", "pip"] {
        let p = plan(
            "debian-bookworm",
            &[
                ("PROJECT", "keystone"),
                ("WHEELS", "/w.tar"),
                ("VENV_TOOLS", ""),
                ("INSTALLER", installer),
            ],
        );
        for tool in ["bindep", "pkginfo", "uv"] {
            assert!(!has(&installs(&p), tool), "{tool}: {:?}", installs(&p));
        }
        assert!(!uninstalls(&p));
    }
    // LOCI master's set: uv too, left in the image; the build still runs its own uv.
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "keystone"),
            ("WHEELS", "/w.tar"),
            ("VENV_TOOLS", "bindep pkginfo uv"),
        ],
    );
    assert!(has(&installs(&p), "uv") && has(&installs(&p), "bindep"));
    assert_eq!(installs(&p)[0], "/tmp/loci-uv/bin/uv");
    assert!(!uninstalls(&p));
}

#[test]
fn ubuntu_jammy_and_noble_python_and_ldap() {
    let env = [
        ("PROJECT", "keystone"),
        ("PROFILES", "ldap"),
        ("WHEELS", "/w.tar"),
    ];
    let jammy = plan("ubuntu-jammy", &env);
    assert_eq!(jammy["distro"]["codename"], "jammy");
    let base = packages(step(&jammy, "base"));
    assert!(
        has(&base, "libpython3.10") && has(&base, "python3-distutils"),
        "{base:?}"
    );
    let pk = packages(step(&jammy, "packages"));
    assert!(has(&pk, "libldap-2.5-0"), "jammy ldap: {pk:?}");
    assert!(!has(&pk, "libldap2"), "jammy ldap: {pk:?}");
    let py = packages(step(&jammy, "pydep"));
    assert!(has(&py, "python-ldap") && has(&py, "ldappool"), "{py:?}");

    let noble = plan("ubuntu-noble", &env);
    let base = packages(step(&noble, "base"));
    assert!(has(&base, "libpython3.12"), "{base:?}");
    assert!(
        !has(&base, "python3-distutils"),
        "noble has no python3-distutils: {base:?}"
    );
    let pk = packages(step(&noble, "packages"));
    assert!(has(&pk, "libldap2"), "noble ldap: {pk:?}");
    assert!(!has(&pk, "libldap-2.5-0"), "noble ldap: {pk:?}");
}

#[test]
fn centos_stream_9_and_rocky_9_use_dnf() {
    for distro in ["centos-stream-9", "rocky-9"] {
        let p = plan(
            distro,
            &[("PROJECT", "nova"), ("WHEELS", "loci/requirements:master")],
        );
        assert_eq!(p["distro"]["package_manager"], "dnf", "{distro}");
        assert_eq!(p["distro"]["family"], "redhat", "{distro}");
        let base = commands(step(&p, "base"));
        assert_eq!(base[0], ["dnf", "makecache", "-y"], "{distro}");
        assert_eq!(&base[1][..2], ["dnf", "install"], "{distro}");
        assert!(
            has(&base[1], "python3") && !has(&base[1], "git"),
            "{distro}: {:?}",
            base[1]
        );
        let pk = commands(step(&p, "packages"));
        assert!(
            pk[1][..2] == ["dnf", "install"] && has(&pk[1], "git"),
            "{distro}: git with the project's packages: {:?}",
            pk[1]
        );
        assert!(
            !base[1].iter().any(|p| p.starts_with("libpython3")),
            "{distro}: no libpython on rpm distros"
        );
        assert!(
            !base[1].iter().any(|p| p == "python3-venv"),
            "{distro}: venv is part of python3 on rpm distros"
        );
        let user = &step(&p, "user")["actions"][0]["user"];
        assert_eq!(
            user["shell"], "/bin/bash",
            "nova gets a shell for migration"
        );
        assert_eq!(step(&p, "wheels")["actions"][0]["source"]["kind"], "image");
        let cleanup = commands(step(&p, "cleanup"));
        assert_eq!(cleanup[0][..2], ["dnf", "remove"], "{distro}");
        assert_eq!(cleanup[1], ["dnf", "clean", "all"], "{distro}");
        // No dpkg-only package may reach an rpm distro.
        if let Some(pk) = p["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "packages")
        {
            for dpkg_only in ["libvirt0", "iproute2", "libpython3.11"] {
                assert!(
                    !has(&packages(pk), dpkg_only),
                    "{distro}: {dpkg_only} in {:?}",
                    packages(pk)
                );
            }
        }
    }
}

#[test]
fn venv_toolchain_prefers_the_wheels_except_in_a_requirements_build() {
    // A service upgrades pip/setuptools/wheel from its wheels first (offline builds work),
    // within the upper-constraints the wheels step wrote.
    let p = plan("debian-bookworm", KEYSTONE);
    let names = step_names(&p);
    let pos = |n: &str| names.iter().position(|s| s == n).unwrap();
    assert!(pos("wheels") < pos("venv"), "{names:?}");
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "keystone"),
            ("WHEELS", "/wheels.tar.gz"),
            ("INSTALLER", "pip"),
            ("VENV_TOOLS", "bindep pkginfo uv"),
        ],
    );
    let pip = &commands(step(&p, "venv"))[1];
    assert_eq!(
        pip[..],
        [
            "/var/lib/openstack/bin/pip",
            "install",
            "--upgrade",
            "--no-cache-dir",
            "--no-compile",
            "-c",
            "/tmp/upper-constraints.txt",
            "--find-links",
            "/tmp/wheels",
            "pip",
            "setuptools<81",
            "wheel",
            "bindep",
            "pkginfo",
            "uv"
        ]
    );
    // A requirements build has no wheels yet: no --find-links to a dir that does not exist
    // (pip would warn "Location '/tmp/wheels' is ignored").
    let p = plan(
        "debian-bookworm",
        &[("PROJECT", "requirements"), ("WHEELS", "/tmp/wheels")],
    );
    let pip = &commands(step(&p, "venv"))[1];
    assert!(
        !pip.iter().any(|a| a == "--find-links" || a == "-c"),
        "{pip:?}"
    );
    assert_eq!(
        pip[pip.len() - 3..],
        ["pip", "setuptools<81", "wheel"],
        "a requirements build deletes its venv: no tools for child images"
    );
}

#[test]
fn plugin_skips_base_user_venv_and_pydep() {
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "neutron-vpnaas"),
            ("PLUGIN", "yes"),
            ("WHEELS", "/w.tar"),
        ],
    );
    let names = step_names(&p);
    for skipped in ["base", "user", "venv", "pydep"] {
        assert!(
            !names.iter().any(|n| n == skipped),
            "{skipped} in {names:?}"
        );
    }
    assert!(names.iter().any(|n| n == "install"));
    // A plugin purges nothing the service image installed.
    let cleanup = commands(step(&p, "cleanup"));
    assert!(
        !cleanup
            .iter()
            .any(|c| c.get(1).map(String::as_str) == Some("purge")),
        "{cleanup:?}"
    );
}

#[test]
fn install_arguments_follow_the_build_args() {
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "keystone"),
            ("PROJECT_PIP_EXTRAS", "ldap,oauth1"),
            ("EXTRA_PROJECTS", "keystone-plugin other"),
            ("PIP_PACKAGES", "python-openstackclient pymysql"),
            ("PIP_ARGS", "--pre"),
            ("KEEP_ALL_WHEELS", "True"),
            ("WHEELS", "https://example.invalid/wheels.tar.gz"),
            ("PROJECT_REF", "refs/changes/24/923324/10"),
            ("PIP_CONSTRAINT", "<25"),
            ("SETUPTOOL_CONSTRAINT", "<80"),
            ("WHEEL_CONSTRAIN", "<0.46"),
            ("UID", "500"),
            ("GID", "501"),
        ],
    );
    let install = &commands(step(&p, "install"))[0];
    assert!(
        has(install, "--no-index"),
        "KEEP_ALL_WHEELS means --no-index: {install:?}"
    );
    assert!(has(install, "--pre"));
    let tail: Vec<&str> = install
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "/tmp/keystone[ldap,oauth1]",
            "/tmp/keystone-plugin",
            "/tmp/other",
            "python-openstackclient",
            "pymysql"
        ]
    );
    let venv = &commands(step(&p, "venv"))[1];
    assert!(
        has(venv, "pip<25") && has(venv, "setuptools<80") && has(venv, "wheel<0.46"),
        "{venv:?}"
    );
    assert_eq!(step(&p, "wheels")["actions"][0]["source"]["kind"], "url");
    assert_eq!(
        step(&p, "source")["actions"][0]["reference"],
        "refs/changes/24/923324/10"
    );
    let user = &step(&p, "user")["actions"][0]["user"];
    assert_eq!(
        (user["uid"].as_u64(), user["gid"].as_u64()),
        (Some(500), Some(501))
    );
}

#[test]
fn dist_packages_are_installed_and_never_purged() {
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "keystone"),
            ("DIST_PACKAGES", "git vim-tiny"),
            ("WHEELS", "/w.tar"),
        ],
    );
    let pk = packages(step(&p, "packages"));
    assert!(has(&pk, "git") && has(&pk, "vim-tiny"), "{pk:?}");
    let cleanup = commands(step(&p, "cleanup"));
    assert_eq!(
        cleanup[0].last().map(String::as_str),
        Some("patch"),
        "{:?}",
        cleanup[0]
    );
    assert!(
        !has(&cleanup[0], "git"),
        "git was asked for: {:?}",
        cleanup[0]
    );
}

#[test]
fn copy_default_config_files_adds_the_config_step() {
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "glance"),
            ("COPY_DEFAULT_CONFIG_FILES", "yes"),
            ("WHEELS", "/w.tar"),
        ],
    );
    let cfg = &step(&p, "config")["actions"][0];
    assert_eq!(cfg["from"], "/var/lib/openstack/etc/glance");
    assert_eq!(cfg["to"], "/etc/glance");
    let p = plan(
        "debian-bookworm",
        &[("PROJECT", "glance"), ("WHEELS", "/w.tar")],
    );
    assert!(!step_names(&p).iter().any(|n| n == "config"));
}

#[test]
fn distro_override_and_errors() {
    // DISTRO overrides the id from os-release.
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "keystone"),
            ("DISTRO", "ubuntu"),
            ("WHEELS", "/w.tar"),
        ],
    );
    assert_eq!(p["distro"]["id"], "ubuntu");

    let out = plan_raw(
        "debian-bookworm",
        &[("PROJECT", "keystone"), ("DISTRO", "gentoo")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unsupported distribution: DISTRO=gentoo"),
        "{err}"
    );
    assert!(
        err.contains("supported distributions are: debian, ubuntu"),
        "{err}"
    );

    let out = plan_raw("debian-bookworm", &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PROJECT is not set"));

    let out = plan_raw(
        "debian-bookworm",
        &[("PROJECT", "keystone"), ("UID", "forty-two")],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("UID=forty-two is not a valid numeric id")
    );
}

#[test]
fn bindep_syntax_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bindep.txt"),
        "git [platform:dpkg]\nbroken [unclosed\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("pydep.txt"), "uwsgi []\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_loci"))
        .env_clear()
        .env("PROJECT", "keystone")
        .args(["plan", "--os-release"])
        .arg(fixture("debian-bookworm"))
        .arg("--loci-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bindep.txt:2"), "{err}");
}

#[test]
fn extra_bindep_files_in_the_loci_dir_are_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bindep.txt"), "curl [keystone]\n").unwrap();
    std::fs::write(dir.path().join("bindep-extra.txt"), "jq [platform:dpkg]\n").unwrap();
    std::fs::write(dir.path().join("pydep.txt"), "").unwrap();
    let out = cmd::ok(
        Command::new(env!("CARGO_BIN_EXE_loci"))
            .env_clear()
            .env("PROJECT", "keystone")
            .args(["plan", "--json", "--os-release"])
            .arg(fixture("debian-bookworm"))
            .arg("--loci-dir")
            .arg(dir.path()),
    );
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Files are read in name order, as LOCI's `for file in /opt/loci/bindep*` does (and git,
    // for pbr in the tree the build clones, comes last, in the same install).
    assert_eq!(packages(step(&p, "packages")), ["jq", "curl", "git"]);
    assert!(
        !step_names(&p).iter().any(|n| n == "pydep"),
        "empty pydep plans no step"
    );
}

#[test]
fn human_plan_lists_steps_and_commands() {
    let empty = tempfile::tempdir().unwrap();
    let out = cmd::ok(
        Command::new(env!("CARGO_BIN_EXE_loci"))
            .env_clear()
            .env("PROJECT", "keystone")
            .env("WHEELS", "/w.tar.gz")
            .args(["plan", "--os-release"])
            .arg(fixture("debian-bookworm"))
            .arg("--loci-dir")
            .arg(empty.path()),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("plan for keystone on debian-bookworm (stage project)\n"),
        "{text}"
    );
    assert!(
        text.contains("] base: base packages for debian-bookworm"),
        "{text}"
    );
    assert!(
        text.contains("install what is missing: apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates"),
        "{text}"
    );
    assert!(
        text.contains("extract tarball /w.tar.gz -> /tmp/wheels"),
        "{text}"
    );
}

#[test]
fn uv_installer_installs_with_the_builds_own_uv() {
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "keystone"),
            ("INSTALLER", "uv"),
            ("EXTRA_PROJECTS", "keystoneauth"),
            ("WHEELS", "/w.tar"),
        ],
    );
    let venv = &commands(step(&p, "venv"))[1];
    assert!(
        !has(venv, "uv"),
        "uv is not installed into the venv: {venv:?}"
    );
    let install = &commands(step(&p, "install"))[0];
    assert_eq!(
        install[..5],
        [
            "/tmp/loci-uv/bin/uv",
            "pip",
            "install",
            "--python",
            "/var/lib/openstack/bin/python"
        ]
    );
    // Local trees are exempt from --only-binary by name; keystoneauth's dir maps to keystoneauth1.
    let joined = install.join(" ");
    assert!(
        joined.contains("--only-binary :all: --no-binary keystone --no-binary keystoneauth1"),
        "{joined}"
    );
    let pydep = &commands(step(&p, "pydep"))[0];
    assert_eq!(pydep[0], "/tmp/loci-uv/bin/uv");
    // The build's uv is in the data dir, which cleanup empties: nothing to uninstall.
    let cleanup = commands(step(&p, "cleanup"));
    assert!(
        !cleanup.iter().any(|c| has(c, "uninstall")),
        "nothing is uninstalled: {cleanup:?}"
    );

    let out = plan_raw(
        "debian-bookworm",
        &[("PROJECT", "keystone"), ("INSTALLER", "poetry")],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("INSTALLER=poetry is not understood"));
}

/// `loci plan --json --stage STAGE` for the distro's os-release fixture, with an empty loci dir
/// (the bindep/pydep lists built into the binary are used).
fn plan_stage_raw(distro: &str, stage: &str, env: &[(&str, &str)]) -> std::process::Output {
    run_plan(Command::new(env!("CARGO_BIN_EXE_loci")), distro, stage, env)
}

/// `plan_stage_raw` with `cmd` starting loci (through a wrapper, say).
fn run_plan(
    mut cmd: Command,
    distro: &str,
    stage: &str,
    env: &[(&str, &str)],
) -> std::process::Output {
    let empty = tempfile::tempdir().unwrap();
    cmd.env_clear()
        .args(["plan", "--json", "--stage", stage, "--os-release"])
        .arg(fixture(distro))
        .arg("--loci-dir")
        .arg(empty.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn plan_stage(distro: &str, stage: &str, env: &[(&str, &str)]) -> Value {
    let out = cmd::succeeded(
        format!("loci plan --stage {stage} for {distro} {env:?}"),
        plan_stage_raw(distro, stage, env),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn two_stage_builder_makes_the_venv_and_runtime_the_rest() {
    // WHEELS an image that BuildKit mounted at WHEELS_PATH.
    let mount = tempfile::tempdir().unwrap();
    let m = mount.path().display().to_string();
    let env = [
        ("PROJECT", "keystone"),
        ("WHEELS", "loci/requirements:2026.1"),
        ("WHEELS_PATH", m.as_str()),
    ];
    let b = plan_stage("debian-bookworm", "builder", &env);
    assert_eq!(b["stage"], "builder");
    assert_eq!(
        step_names(&b),
        [
            "wheels",
            "preflight",
            "base",
            "venv",
            "packages",
            "pydep",
            "source",
            "install",
            "coverage",
            "libraries",
            "info",
            "cleanup",
            "seal"
        ]
    );
    let fetch = &step(&b, "wheels")["actions"][0];
    assert_eq!(fetch["source"]["kind"], "mounted");
    assert_eq!(fetch["source"]["location"]["path"], m.as_str());
    let install = commands(step(&b, "install")).remove(0);
    let at = install.iter().position(|a| a == "--find-links").unwrap();
    assert_eq!(install[at + 1], m, "pip reads the mounted wheels in place");
    assert_eq!(
        step(&b, "libraries")["actions"][0]["out"],
        "/etc/image_info/venv-libraries.txt"
    );
    // The builder's cleanup only makes the venv final.
    let cleanup = step(&b, "cleanup")["actions"].as_array().unwrap().clone();
    assert!(cleanup.iter().all(|a| a["action"] != "run"), "{cleanup:?}");

    let r = plan_stage("debian-bookworm", "runtime", &env);
    assert_eq!(
        step_names(&r),
        [
            "preflight",
            "base",
            "user",
            "packages",
            "info",
            "cleanup",
            "seal"
        ]
    );
    assert!(
        !has(&packages(step(&r, "base")), "git"),
        "the runtime stage needs no git"
    );
    let actions = step(&r, "packages")["actions"].as_array().unwrap().clone();
    assert_eq!(actions.last().unwrap()["action"], "install_listed_packages");
    assert_eq!(
        actions.last().unwrap()["file"],
        "/etc/image_info/venv-libraries.txt"
    );
    // nova's runtime gets the consoles and the tss user; its builder does not.
    let nb = plan_stage(
        "debian-bookworm",
        "builder",
        &[("PROJECT", "nova"), ("WHEELS", "/w.tgz")],
    );
    assert!(!step_names(&nb)
        .iter()
        .any(|s| s == "project" || s == "project-users"));
    let nr = plan_stage(
        "debian-bookworm",
        "runtime",
        &[("PROJECT", "nova"), ("WHEELS", "/w.tgz")],
    );
    assert!(
        step_names(&nr).iter().any(|s| s == "project"),
        "{:?}",
        step_names(&nr)
    );
}

#[test]
fn without_wheels_the_builder_compiles_from_the_index() {
    let env = [
        ("PROJECT", "keystone"),
        ("WHEELS", ""),
        ("UPPER_CONSTRAINTS", "/tmp/upper-constraints.txt"),
        ("SETUPTOOL_CONSTRAINT", "<81"),
    ];
    let b = plan_stage("debian-bookworm", "builder", &env);
    let fetch = &step(&b, "wheels")["actions"][0];
    assert_eq!(fetch["action"], "fetch_constraints");
    assert_eq!(fetch["source"], "/tmp/upper-constraints.txt");
    assert_eq!(fetch["setuptools"], "<81");
    // bindep's build-time packages (the `requirements` profile) come along.
    let pk = packages(step(&b, "packages"));
    assert!(
        has(&pk, "build-essential") && has(&pk, "libssl-dev"),
        "{pk:?}"
    );
    let install = commands(step(&b, "install")).remove(0);
    assert!(!has(&install, "--only-binary"), "{install:?}");
    assert!(!has(&install, "--find-links"), "{install:?}");
    let at = install
        .iter()
        .position(|a| a == "--build-constraint")
        .unwrap();
    assert_eq!(install[at + 1], "/tmp/build-constraints.txt");
    // Without UPPER_CONSTRAINTS: OpenStack's published file for the release.
    let b = plan_stage(
        "debian-bookworm",
        "builder",
        &[
            ("PROJECT", "keystone"),
            ("WHEELS", ""),
            ("PROJECT_RELEASE", "2026.1"),
        ],
    );
    assert_eq!(
        step(&b, "wheels")["actions"][0]["source"],
        "https://releases.openstack.org/constraints/upper/2026.1"
    );
}

#[test]
fn a_stage_that_does_not_fit_the_project_is_refused() {
    let out = plan_stage_raw(
        "debian-bookworm",
        "requirements",
        &[("PROJECT", "keystone"), ("WHEELS", "/w.tgz")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the requirements target builds PROJECT=requirements, not PROJECT=keystone"),
        "{err}"
    );
    let out = plan_stage_raw("debian-bookworm", "runtime", &[("PROJECT", "requirements")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the runtime target builds a service in two stages"),
        "{err}"
    );
    assert!(err.contains("--target requirements"), "{err}");
    // PROJECT=requirements alone on the requirements stage plans the wheels build.
    let p = plan_stage(
        "debian-bookworm",
        "requirements",
        &[("PROJECT", "requirements")],
    );
    assert_eq!(
        step_names(&p),
        [
            "preflight",
            "base",
            "venv",
            "packages",
            "source",
            "requirements",
            "purge"
        ]
    );
}

/// A plan for another machine (`--os-release`) does not depend on this one: the requirements
/// build's jobs come from a nominal host of one CPU (four jobs a CPU), its drops and keystone's
/// mod_oauth2 step from a nominal x86_64, and a run with fewer CPUs plans the same.
#[test]
fn a_plan_for_another_machine_is_the_same_on_every_host() {
    let env = [("PROJECT", "requirements")];
    let p = plan("debian-bookworm", &env);
    let req = step(&p, "requirements");
    for action in req["actions"].as_array().unwrap() {
        if let Some(spec) = action.get("spec") {
            assert_eq!(spec["jobs"], 4, "{spec}");
        }
    }
    let drops = req["actions"][0]["spec"]["drops"].to_string();
    assert!(!drops.contains("confluent-kafka"), "x86_64: {drops}");
    let keystone = plan(
        "debian-bookworm",
        &[("PROJECT", "keystone"), ("PROFILES", "mod_oauth2")],
    );
    assert!(step_names(&keystone).contains(&"project".to_string()));
    // One CPU instead of all of them: the same plan.
    if Command::new("taskset").arg("-V").output().is_ok() {
        let mut taskset = Command::new("taskset");
        taskset.args(["-c", "0", env!("CARGO_BIN_EXE_loci")]);
        let out = cmd::succeeded(
            "loci plan on one CPU",
            run_plan(taskset, "debian-bookworm", "project", &env),
        );
        let pinned: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(pinned, p);
    }
}

/// PACKAGE_CACHE: with the cache mount there (LOCI_CACHE_DIR), apt keeps its downloads and
/// lists in it and pip and uv use their caches there; PACKAGE_CACHE=False, or no mount, and
/// every tool runs without a cache, as before.
#[test]
fn package_caches_are_used_when_mounted_and_off_with_package_cache_false() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().display().to_string();
    let with = |extra: &[(&str, &str)]| {
        let mut env = vec![("PROJECT", "keystone"), ("WHEELS", "/w.tar")];
        env.extend_from_slice(extra);
        plan("debian-bookworm", &env)
    };
    let p = with(&[("LOCI_CACHE_DIR", dir.as_str())]);
    let base = commands(step(&p, "base"));
    for want in [
        format!("Dir::Cache::Archives={dir}/system/archives/"),
        format!("Dir::State::Lists={dir}/system/lists/"),
        "APT::Keep-Downloaded-Packages=true".to_string(),
    ] {
        assert!(has(&base[0], &want), "refresh: {want} in {:?}", base[0]);
        assert!(has(&base[1], &want), "install: {want} in {:?}", base[1]);
    }
    let pre = &step(&p, "preflight")["actions"][0]["refresh"];
    assert!(has(
        &argv(pre),
        &format!("Dir::State::Lists={dir}/system/lists/")
    ));
    let install = &commands(step(&p, "install"))[0];
    let joined = install.join(" ");
    assert!(
        joined.contains(&format!("--cache-dir {dir}/python/uv --link-mode copy")),
        "{joined}"
    );
    assert!(!has(install, "--no-cache"), "{joined}");
    // uv's cache would take an edited tree for the one it built before: always rebuilt.
    assert!(joined.contains("--refresh-package keystone"), "{joined}");
    // The cleanup's `apt-get clean` is the image's, not the cache's.
    let cleanup = commands(step(&p, "cleanup"));
    assert!(
        cleanup.iter().any(|c| c == &["apt-get", "clean"]),
        "{cleanup:?}"
    );
    let pip = with(&[("LOCI_CACHE_DIR", dir.as_str()), ("INSTALLER", "pip")]);
    let install = &commands(step(&pip, "install"))[0];
    assert!(
        install
            .join(" ")
            .contains(&format!("--cache-dir {dir}/python/pip")),
        "{install:?}"
    );
    // Off: with PACKAGE_CACHE=False, and without the mount.
    for p in [
        with(&[("LOCI_CACHE_DIR", dir.as_str()), ("PACKAGE_CACHE", "False")]),
        with(&[("LOCI_CACHE_DIR", "/nonexistent/loci-cache")]),
        with(&[]),
    ] {
        let text = p.to_string();
        assert!(!text.contains("--cache-dir"), "{text}");
        assert!(!text.contains("Dir::Cache::Archives"), "{text}");
        assert!(has(&commands(step(&p, "install"))[0], "--no-cache"));
    }
    let out = plan_raw(
        "debian-bookworm",
        &[("PROJECT", "keystone"), ("PACKAGE_CACHE", "sometimes")],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PACKAGE_CACHE=sometimes is not a boolean")
    );
}

/// SOURCE_DATE_EPOCH without INSTALLER: pip, whose installs are reproducible (uv records the
/// time it built a local tree in the installed uv_cache.json and RECORD).
#[test]
fn source_date_epoch_without_installer_installs_with_pip() {
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "keystone"),
            ("WHEELS", "/w.tar"),
            ("SOURCE_DATE_EPOCH", "1700000000"),
        ],
    );
    assert_eq!(
        commands(step(&p, "install"))[0][0],
        "/var/lib/openstack/bin/pip"
    );
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "keystone"),
            ("WHEELS", "/w.tar"),
            ("SOURCE_DATE_EPOCH", "1700000000"),
            ("INSTALLER", "uv"),
        ],
    );
    assert_eq!(commands(step(&p, "install"))[0][0], "/tmp/loci-uv/bin/uv");
}
