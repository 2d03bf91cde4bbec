//! Plans of every service LOCI builds, on every supported distro, with their profiles: the
//! bindep/pydep lists (bindep.txt, pydep.txt) resolve, name the distro's own packages, and the
//! project-specific steps (nova's consoles, horizon's static files, keystone's mod_oauth2),
//! PLUGIN=yes and EXTRA_PROJECTS are planned as LOCI does them.
//!
//! `extra_projects_are_pip_installed_with_the_project` runs pip for real in a temporary venv;
//! `bookworm_package_names_exist` asks apt in a Debian bookworm container (`tests/run.sh`).

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/pywheel.rs"]
mod pywheel;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use loci::config::{Config, Env};
use loci::distro::{Distro, Family};
use loci::os_release::OsRelease;
use loci::plan::{
    Action, Cmd, CoverageAction, Hook, NovaHook, PackagesAction, Plan, PlanInput, PreflightAction,
    SkylineHook, SourceAction, UserAction, VenvAction,
};
use loci::steps::build_plan;

const DISTROS: &[&str] = &[
    "debian-bookworm",
    "debian-trixie",
    "ubuntu-jammy",
    "ubuntu-noble",
    "centos-stream-9",
    "rocky-9",
];

/// Every service with the profiles that mean something for it.
const SERVICES: &[(&str, &[&str])] = &[
    (
        "cinder",
        &["ceph", "lvm", "nfs", "iscsi", "purestorage", "qemu"],
    ),
    ("glance", &["ceph", "qemu"]),
    ("heat", &[]),
    ("horizon", &[]),
    (
        "ironic",
        &["ipmi", "ipxe", "pxe", "tftp", "console", "qemu"],
    ),
    ("keystone", &["ldap", "mellon", "openidc", "mod_oauth2"]),
    ("neutron", &["openvswitch", "linuxbridge", "vpn"]),
    (
        "nova",
        &[
            "ceph",
            "qemu",
            "configdrive",
            "migration",
            "tpm",
            "openvswitch",
            "linuxbridge",
            "purestorage",
            "iscsi",
            "nfs",
        ],
    ),
    ("octavia", &[]),
    ("placement", &[]),
    ("manila", &["ceph", "lvm", "nfs"]),
    ("designate", &[]),
    // The rest of LOCI master's 30 images (playbooks/vars.yaml), with the profiles LOCI gives
    // them there.
    ("barbican", &[]),
    ("blazar", &["ldap"]),
    ("ceilometer", &[]),
    ("cloudkitty", &[]),
    ("cyborg", &[]),
    ("freezer", &["ceph", "lvm", "qemu", "scheduler"]),
    ("freezer-api", &[]),
    ("magnum", &[]),
    ("masakari", &[]),
    ("masakari-monitors", &[]),
    ("mistral", &[]),
    ("python-openstackclient", &[]),
    ("skyline-apiserver", &[]),
    ("swift", &[]),
    ("tacker", &[]),
    ("trove", &[]),
    ("watcher", &[]),
    ("zaqar", &["ldap"]),
];

/// Profiles every service can be built with.
const COMMON: &[&str] = &["apache", "nginx", "fluent"];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/os-release")
        .join(name)
}

fn distro(name: &str) -> Distro {
    let os = OsRelease::from_file(&fixture(name)).unwrap();
    Distro::detect(&os, None, None).unwrap()
}

fn config(pairs: &[(&str, &str)]) -> Config {
    let env: Env = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_env(&env).unwrap_or_else(|e| panic!("{pairs:?}: {e}"))
}

fn plan_with(config: &Config, distro: &Distro) -> Plan {
    let input = PlanInput::new(config, distro)
        .bindep("bindep.txt", include_str!("../bindep.txt"))
        .pydep("pydep.txt", include_str!("../pydep.txt"));
    build_plan(&input)
        .unwrap_or_else(|e| panic!("plan of {} on {}: {e}", config.project, distro.label()))
}

fn plan(distro_name: &str, pairs: &[(&str, &str)]) -> Plan {
    plan_with(&config(pairs), &distro(distro_name))
}

/// The system packages of the `packages` step.
fn packages(p: &Plan) -> Vec<String> {
    p.step("packages")
        .map(|s| s.packages.clone())
        .unwrap_or_default()
}

fn pydep(p: &Plan) -> Vec<String> {
    p.step("pydep")
        .map(|s| s.packages.clone())
        .unwrap_or_default()
}

fn step_names(p: &Plan) -> Vec<&'static str> {
    p.steps.iter().map(|s| s.name).collect()
}

/// Every command of a step, as an argument vector.
fn commands(p: &Plan, step: &str) -> Vec<Cmd> {
    let Some(s) = p.step(step) else {
        return Vec::new();
    };
    s.actions
        .iter()
        .flat_map(|a| match a {
            Action::Run { cmd } => vec![cmd.clone()],
            Action::Packages(PackagesAction::Install { install, .. }) => vec![install.clone()],
            Action::Packages(PackagesAction::Purge { purge, .. }) => vec![purge.clone()],
            _ => vec![],
        })
        .collect()
}

fn argv(c: &Cmd) -> Vec<String> {
    let mut v = vec![c.program.clone()];
    v.extend(c.args.iter().cloned());
    v
}

/// The profile sets a service is planned with: none, each profile alone, all at once.
fn profile_sets(profiles: &[&str]) -> Vec<Vec<String>> {
    let mut sets: Vec<Vec<String>> = vec![vec![]];
    for p in profiles.iter().chain(COMMON) {
        sets.push(vec![p.to_string()]);
    }
    sets.push(
        profiles
            .iter()
            .chain(COMMON)
            .map(|s| s.to_string())
            .collect(),
    );
    sets
}

#[test]
fn every_service_plans_on_every_distro_with_every_profile() {
    let mut planned = 0;
    for d in DISTROS {
        let dist = distro(d);
        for (service, profiles) in SERVICES {
            for set in profile_sets(profiles) {
                let joined = set.join(" ");
                let p = plan_with(
                    &config(&[("PROJECT", service), ("PROFILES", &joined)]),
                    &dist,
                );
                let pk = packages(&p);
                // libxml2 is wanted everywhere: no plan may lose its packages step.
                assert!(
                    pk.contains(&"libxml2".to_string()),
                    "{service} [{joined}] on {d}: {pk:?}"
                );
                let install = commands(&p, "packages");
                assert_eq!(install.len(), 1, "{service} [{joined}] on {d}");
                let manager = if dist.family == Family::Debian {
                    "apt-get"
                } else {
                    "dnf"
                };
                assert_eq!(install[0].program, manager, "{service} on {d}");
                assert!(
                    pk.iter().all(|x| install[0].args.contains(x)),
                    "{service} on {d}: {install:?}"
                );
                let mut seen = BTreeSet::new();
                assert!(
                    pk.iter().all(|x| seen.insert(x)),
                    "duplicate package in {pk:?}"
                );
                // The service-specific step comes right after the install and its check.
                let names = step_names(&p);
                if let Some(i) = names.iter().position(|n| *n == "project") {
                    assert_eq!(
                        names[i - 2..i],
                        ["install", "coverage"],
                        "{service} on {d}: {names:?}"
                    );
                }
                planned += 1;
            }
        }
    }
    assert!(planned > 500, "{planned}");
}

/// (service, PROFILES, distros, packages that must be there, packages that must not).
type Expectation = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

const DPKG: &[&str] = &[
    "debian-bookworm",
    "debian-trixie",
    "ubuntu-jammy",
    "ubuntu-noble",
];
const DEBIAN: &[&str] = &["debian-bookworm", "debian-trixie"];
const UBUNTU: &[&str] = &["ubuntu-jammy", "ubuntu-noble"];
const RPM: &[&str] = &["centos-stream-9", "rocky-9"];

const EXPECTED: &[Expectation] = &[
    (
        "nova",
        "",
        DPKG,
        &["iproute2", "libvirt0", "libosinfo-bin"],
        &["qemu-utils", "ceph-common"],
    ),
    (
        "nova",
        "",
        RPM,
        &["iproute", "libvirt-libs", "libosinfo"],
        &["qemu-img", "libvirt0", "iproute2"],
    ),
    ("nova", "qemu", DPKG, &["qemu-utils"], &["qemu-img"]),
    ("nova", "qemu", RPM, &["qemu-img"], &["qemu-utils"]),
    (
        "nova",
        "ceph",
        DPKG,
        &["ceph-common", "python3-rbd", "python3-rados"],
        &[],
    ),
    (
        "nova",
        "ceph",
        RPM,
        &["ceph-common", "python3-rbd", "python3-rados"],
        &[],
    ),
    ("nova", "configdrive", DPKG, &["genisoimage"], &["xorriso"]),
    ("nova", "configdrive", RPM, &["xorriso"], &["genisoimage"]),
    ("nova", "migration", DPKG, &["openssh-client"], &[]),
    (
        "nova",
        "migration",
        RPM,
        &["openssh-clients"],
        &["openssh-client"],
    ),
    ("nova", "tpm", DPKG, &["swtpm", "swtpm-tools"], &[]),
    ("nova", "tpm", RPM, &["swtpm", "swtpm-tools"], &[]),
    ("nova", "openvswitch", DPKG, &["openvswitch-switch"], &[]),
    (
        "nova",
        "openvswitch",
        RPM,
        &["openvswitch"],
        &["openvswitch-switch"],
    ),
    (
        "nova",
        "linuxbridge",
        DPKG,
        &["bridge-utils", "iptables"],
        &[],
    ),
    (
        "nova",
        "linuxbridge",
        RPM,
        &["iptables-nft"],
        &["bridge-utils", "iptables"],
    ),
    (
        "nova",
        "purestorage",
        DPKG,
        &["open-iscsi", "multipath-tools", "sg3-utils"],
        &[],
    ),
    (
        "nova",
        "purestorage",
        RPM,
        &[
            "iscsi-initiator-utils",
            "device-mapper-multipath",
            "sg3_utils",
        ],
        &[],
    ),
    ("nova", "nfs", DPKG, &["nfs-common"], &[]),
    ("nova", "nfs", RPM, &["nfs-utils"], &[]),
    (
        "keystone",
        "",
        DPKG,
        &[],
        &["libldap-2.5-0", "libldap2", "apache2"],
    ),
    (
        "keystone",
        "ldap",
        &["debian-bookworm", "ubuntu-jammy"],
        &["libldap-2.5-0"],
        &["libldap2", "libldap-2.4-2"],
    ),
    (
        "keystone",
        "ldap",
        &["debian-trixie", "ubuntu-noble"],
        &["libldap2"],
        &["libldap-2.5-0", "libldap-2.4-2"],
    ),
    ("keystone", "ldap", RPM, &["openldap"], &["libldap2"]),
    (
        "keystone",
        "apache mellon openidc",
        DPKG,
        &[
            "apache2",
            "libapache2-mod-wsgi-py3",
            "libapache2-mod-auth-mellon",
            "libapache2-mod-auth-openidc",
        ],
        &[],
    ),
    (
        "keystone",
        "apache mellon openidc",
        RPM,
        &[
            "httpd",
            "python3-mod_wsgi",
            "mod_auth_mellon",
            "mod_auth_openidc",
        ],
        &["apache2"],
    ),
    (
        "keystone",
        "mellon",
        DPKG,
        &[],
        &["libapache2-mod-auth-mellon"],
    ),
    (
        "horizon",
        "apache",
        DPKG,
        &["gettext", "apache2", "libapache2-mod-wsgi-py3"],
        &[],
    ),
    (
        "horizon",
        "apache",
        RPM,
        &["gettext", "httpd", "python3-mod_wsgi"],
        &["apache2"],
    ),
    (
        "horizon",
        "nginx",
        DPKG,
        &["gettext", "nginx"],
        &["apache2"],
    ),
    (
        "placement",
        "",
        DEBIAN,
        &["default-mysql-client"],
        &["mysql-client"],
    ),
    (
        "placement",
        "",
        UBUNTU,
        &["mysql-client"],
        &["default-mysql-client"],
    ),
    ("placement", "", RPM, &["mariadb"], &["mysql-client"]),
    (
        "neutron",
        "",
        DPKG,
        &[
            "conntrack",
            "dnsmasq",
            "dnsmasq-utils",
            "ebtables",
            "haproxy",
            "iproute2",
            "ipset",
            "iptables",
            "iputils-arping",
            "keepalived",
            "procps",
            "radvd",
            "uuid-runtime",
        ],
        &["openvswitch-switch", "strongswan"],
    ),
    (
        "neutron",
        "",
        RPM,
        &[
            "conntrack-tools",
            "dnsmasq",
            "dnsmasq-utils",
            "haproxy",
            "iproute",
            "ipset",
            "iptables-nft",
            "iputils",
            "keepalived",
            "procps-ng",
            "radvd",
            "util-linux",
        ],
        &["conntrack", "ebtables", "iptables"],
    ),
    (
        "neutron",
        "openvswitch linuxbridge vpn",
        DPKG,
        &["openvswitch-switch", "bridge-utils", "strongswan"],
        &[],
    ),
    (
        "neutron",
        "openvswitch linuxbridge vpn",
        RPM,
        &["openvswitch", "libreswan"],
        &["strongswan", "bridge-utils"],
    ),
    (
        "cinder",
        "lvm",
        DPKG,
        &["lvm2", "tgt", "thin-provisioning-tools"],
        &["targetcli"],
    ),
    (
        "cinder",
        "lvm",
        RPM,
        &["lvm2", "targetcli", "device-mapper-persistent-data"],
        &["tgt"],
    ),
    (
        "cinder",
        "ceph qemu",
        DPKG,
        &["ceph-common", "python3-rbd", "python3-rados", "qemu-utils"],
        &[],
    ),
    (
        "cinder",
        "ceph qemu",
        RPM,
        &["ceph-common", "python3-rbd", "qemu-img"],
        &[],
    ),
    (
        "cinder",
        "iscsi",
        RPM,
        &["iscsi-initiator-utils"],
        &["device-mapper-multipath"],
    ),
    (
        "glance",
        "ceph qemu",
        DPKG,
        &["python3-rbd", "qemu-utils"],
        &[],
    ),
    (
        "glance",
        "ceph qemu",
        RPM,
        &["python3-rbd", "qemu-img"],
        &[],
    ),
    ("glance", "", DPKG, &[], &["python3-rbd", "qemu-utils"]),
    (
        "ironic",
        "ipmi ipxe pxe tftp console qemu",
        DPKG,
        &[
            "ipmitool",
            "ipxe",
            "pxelinux",
            "syslinux-common",
            "tftpd-hpa",
            "socat",
            "qemu-utils",
        ],
        &[],
    ),
    (
        "ironic",
        "ipmi ipxe pxe tftp console qemu",
        RPM,
        &[
            "ipmitool",
            "ipxe-bootimgs-x86",
            "syslinux-tftpboot",
            "tftp-server",
            "socat",
            "qemu-img",
        ],
        &["ipxe", "tftpd-hpa"],
    ),
    ("octavia", "", DPKG, &["isc-dhcp-client"], &[]),
    ("octavia", "", RPM, &["dhcp-client"], &["isc-dhcp-client"]),
    (
        "manila",
        "ceph lvm nfs",
        DPKG,
        &["ceph-common", "lvm2", "nfs-common"],
        &[],
    ),
    (
        "manila",
        "ceph lvm nfs",
        RPM,
        &["ceph-common", "lvm2", "nfs-utils"],
        &[],
    ),
    ("designate", "", DPKG, &["bind9-utils"], &[]),
    ("designate", "", RPM, &["bind-utils"], &[]),
    (
        "heat",
        "nginx",
        DPKG,
        &["nginx", "libxml2"],
        &["apache2", "gettext"],
    ),
    // uwsgi is built against PCRE where the release still has it.
    (
        "heat",
        "",
        &["debian-bookworm", "ubuntu-jammy", "ubuntu-noble"],
        &["libpcre3"],
        &[],
    ),
    ("heat", "", &["debian-trixie"], &[], &["libpcre3"]),
    ("heat", "", RPM, &["libxml2"], &["libpcre3"]),
    // The requirements image's build dependencies.
    (
        "requirements",
        "",
        DEBIAN,
        &[
            "default-libmysqlclient-dev",
            "zlib1g-dev",
            "libpq-dev",
            "python3-dev",
        ],
        &["libmysqlclient-dev", "libz-dev", "libmariadbclient-dev"],
    ),
    (
        "requirements",
        "",
        UBUNTU,
        &["libmysqlclient-dev", "zlib1g-dev"],
        &["default-libmysqlclient-dev"],
    ),
    (
        "requirements",
        "",
        &["debian-trixie"],
        &["libpcre2-dev"],
        &["libpcre3-dev"],
    ),
    (
        "requirements",
        "",
        RPM,
        &[
            "gcc",
            "python3-devel",
            "libffi-devel",
            "openssl-devel",
            "mariadb-connector-c-devel",
            "zlib-devel",
        ],
        &["build-essential", "python3-dev"],
    ),
];

#[test]
fn distro_specific_package_names() {
    let mut failures = Vec::new();
    for (service, profiles, distros, want, not) in EXPECTED {
        for d in *distros {
            let p = plan(d, &[("PROJECT", service), ("PROFILES", profiles)]);
            let pk = if *service == "requirements" {
                p.step("requirements")
                    .map(|_| ())
                    .expect("a requirements step");
                loci::steps::packages::bindep_packages(
                    &PlanInput::new(
                        &config(&[("PROJECT", service), ("PROFILES", profiles)]),
                        &distro(d),
                    )
                    .bindep("bindep.txt", include_str!("../bindep.txt")),
                )
                .unwrap()
            } else {
                packages(&p)
            };
            for w in *want {
                if !pk.iter().any(|x| x == w) {
                    failures.push(format!(
                        "{service} [{profiles}] on {d}: {w} missing from {pk:?}"
                    ));
                }
            }
            for n in *not {
                if pk.iter().any(|x| x == n) {
                    failures.push(format!(
                        "{service} [{profiles}] on {d}: {n} unexpected in {pk:?}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// No dpkg name leaks into an rpm plan and no rpm name into a dpkg plan: the only names both
/// families share are the ones spelled the same in both.
#[test]
fn package_names_stay_within_their_family() {
    const SAME_IN_BOTH: &[&str] = &[
        "libxml2",
        "gettext",
        "nginx",
        "lvm2",
        "ceph-common",
        "python3-rbd",
        "python3-rados",
        "dnsmasq",
        "dnsmasq-utils",
        "haproxy",
        "ipset",
        "keepalived",
        "radvd",
        "ipmitool",
        "socat",
        "swtpm",
        "swtpm-tools",
        "git",
    ];
    let mut by_family: BTreeMap<bool, BTreeSet<String>> = BTreeMap::new();
    for d in DISTROS {
        let dist = distro(d);
        for (service, profiles) in SERVICES.iter().chain([("requirements", &[][..])].iter()) {
            let all: Vec<&str> = profiles.iter().chain(COMMON).copied().collect();
            let c = config(&[("PROJECT", service), ("PROFILES", &all.join(" "))]);
            let input =
                PlanInput::new(&c, &dist).bindep("bindep.txt", include_str!("../bindep.txt"));
            let pk = loci::steps::packages::bindep_packages(&input).unwrap();
            by_family
                .entry(dist.family == Family::Debian)
                .or_default()
                .extend(pk);
        }
    }
    let both: Vec<&String> = by_family[&true].intersection(&by_family[&false]).collect();
    let leaked: Vec<&&String> = both
        .iter()
        .filter(|p| !SAME_IN_BOTH.contains(&p.as_str()))
        .collect();
    assert!(
        leaked.is_empty(),
        "names planned on both dpkg and rpm distros: {leaked:?}"
    );
    assert!(
        by_family[&false].contains("python3-mod_wsgi")
            && by_family[&true].contains("libapache2-mod-wsgi-py3")
    );
}

#[test]
fn pydep_profiles() {
    for d in ["debian-bookworm", "rocky-9"] {
        let p = plan(d, &[("PROJECT", "keystone"), ("PROFILES", "ldap fluent")]);
        for want in [
            "python-ldap",
            "ldappool",
            "fluent-logger",
            "pymysql",
            "python-memcached",
            "uwsgi",
        ] {
            assert!(
                pydep(&p).iter().any(|x| x == want),
                "{want} on {d}: {:?}",
                pydep(&p)
            );
        }
        let p = plan(d, &[("PROJECT", "nova"), ("PROFILES", "purestorage")]);
        assert!(
            pydep(&p).contains(&"libvirt-python".to_string())
                && pydep(&p).contains(&"purestorage".to_string())
        );
        let p = plan(d, &[("PROJECT", "neutron"), ("PROFILES", "vpn baremetal")]);
        assert!(
            pydep(&p).contains(&"neutron-vpnaas".to_string())
                && pydep(&p).contains(&"networking-baremetal".to_string())
        );
        let p = plan(d, &[("PROJECT", "glance"), ("PROFILES", "s3")]);
        assert!(pydep(&p).contains(&"boto3".to_string()));
        let p = plan(d, &[("PROJECT", "heat")]);
        assert!(
            !pydep(&p)
                .iter()
                .any(|x| x == "python-ldap" || x == "libvirt-python" || x == "boto3"),
            "{:?}",
            pydep(&p)
        );
    }
}

// ------------------------------------------------------------------------------------------
// Project-specific steps

#[test]
fn nova_clones_the_consoles_and_creates_the_tss_user() {
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "nova"),
            ("NOVNC_REPO", "git://127.0.0.1:9418/novnc"),
            ("NOVNC_REF", "v1.5.0"),
            ("SPICE_REF", "v0.3.0"),
            ("NOVA_TSS_UID", "42500"),
        ],
    );
    let step = p.step("project").expect("a project step");
    let clones: Vec<(String, String, PathBuf, bool)> = step
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Source(SourceAction::GitClone {
                repo,
                reference,
                dest,
                shallow_no_git,
                ..
            }) => Some((
                repo.clone(),
                reference.clone(),
                dest.clone(),
                *shallow_no_git,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        clones,
        [
            (
                "git://127.0.0.1:9418/novnc".to_string(),
                "v1.5.0".to_string(),
                PathBuf::from("/usr/share/novnc"),
                true
            ),
            (
                "https://gitlab.freedesktop.org/spice/spice-html5.git".to_string(),
                "v0.3.0".to_string(),
                PathBuf::from("/usr/share/spice-html5"),
                true
            ),
        ]
    );
    let hooks: Vec<&Hook> = step
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Project(hook) if hook.project() == "nova" => Some(hook),
            _ => None,
        })
        .collect();
    assert_eq!(
        hooks,
        [&Hook::Nova(NovaHook::Consoles {
            novnc: "/usr/share/novnc".into(),
            spice: "/usr/share/spice-html5".into()
        })]
    );
    // The tss user comes right after the nova user, before any package (swtpm's packages
    // would create a tss account with other ids), and not at all for plugins.
    let names = step_names(&p);
    let users = names
        .iter()
        .position(|n| *n == "project-users")
        .expect("a project-users step");
    assert_eq!(
        &names[users - 1..users + 1],
        ["user", "project-users"],
        "{names:?}"
    );
    assert!(
        users < names.iter().position(|n| *n == "packages").unwrap(),
        "{names:?}"
    );
    let tss = p.step("project-users").unwrap();
    assert!(
        matches!(&tss.actions[..], [Action::Project(Hook::Nova(NovaHook::TssUser { user }))]
            if user.name == "tss"),
        "{:?}",
        tss.actions
    );
    assert!(tss.summary.contains("tss (42500:42434)"), "{}", tss.summary);
    let plugin = plan("debian-bookworm", &[("PROJECT", "nova"), ("PLUGIN", "yes")]);
    assert!(plugin.step("project-users").is_none());
    // The nova user itself keeps a login shell for migrations.
    let user = p.step("user").unwrap();
    assert!(
        matches!(&user.actions[0], Action::User(UserAction::CreateUser { user }) if user.shell == "/bin/bash")
    );
}

#[test]
fn horizon_configures_and_compresses_with_the_venv_python() {
    for d in DISTROS {
        let p = plan(
            d,
            &[
                ("PROJECT", "horizon"),
                ("PROFILES", "apache"),
                ("HORIZON_EXTRA_PANELS", "heat_dashboard manila_ui"),
            ],
        );
        let names = step_names(&p);
        let at = names
            .iter()
            .position(|n| *n == "project")
            .expect("a project step");
        assert_eq!(names[at - 2..at], ["install", "coverage"]);
        let cmds: Vec<Vec<String>> = commands(&p, "project").iter().map(argv).collect();
        assert_eq!(
            cmds,
            [
                vec![
                    "/var/lib/openstack/bin/python",
                    "-m",
                    "django",
                    "collectstatic",
                    "--clear",
                    "--noinput"
                ],
                vec![
                    "/var/lib/openstack/bin/python",
                    "-m",
                    "django",
                    "compress",
                    "--force"
                ],
            ]
        );
        let step = p.step("project").unwrap();
        assert!(
            step.summary.contains("heat_dashboard manila_ui"),
            "{}",
            step.summary
        );
        let hooks = step
            .actions
            .iter()
            .filter(|a| matches!(a, Action::Project(_)))
            .count();
        assert_eq!(hooks, 3);
    }
    let default = plan("debian-bookworm", &[("PROJECT", "horizon")]);
    let summary = &default.step("project").unwrap().summary;
    for panel in [
        "heat_dashboard",
        "octavia_dashboard",
        "designatedashboard",
        "manila_ui",
        "neutron_vpnaas_dashboard",
        "watcher_dashboard",
    ] {
        assert!(
            summary.contains(panel),
            "{panel} not in LOCI's default list: {summary}"
        );
    }
}

#[test]
fn keystone_mod_oauth2_only_on_dpkg_with_the_profile() {
    let env = [
        ("PROJECT", "keystone"),
        ("PROFILES", "apache mod_oauth2"),
        (
            "MOD_OAUTH2_URL",
            "http://127.0.0.1:8000/libapache2-mod-oauth2_3.4.0-1.{codename}_amd64.deb",
        ),
    ];
    for d in DPKG {
        let p = plan(d, &env);
        // MOD_OAUTH2_URL given: its .debs on every architecture.
        let step = p
            .step("project")
            .unwrap_or_else(|| panic!("no mod_oauth2 step on {d}"));
        let codename = distro(d).codename.unwrap();
        let deb =
            format!("/tmp/loci-mod-oauth2/libapache2-mod-oauth2_3.4.0-1.{codename}_amd64.deb");
        assert!(step.packages.contains(&deb), "{d}: {:?}", step.packages);
        assert!(step
            .packages
            .iter()
            .any(|p| p.starts_with("/tmp/loci-mod-oauth2/liboauth2_") && p.contains(&codename)));
        let cmds: Vec<Vec<String>> = commands(&p, "project").iter().map(argv).collect();
        assert!(
            cmds.iter().any(|c| c[0] == "apt-get" && c.contains(&deb)),
            "{cmds:?}"
        );
        assert!(
            cmds.contains(&vec!["a2enmod".to_string(), "oauth2".to_string()]),
            "{cmds:?}"
        );
    }
    for d in RPM {
        assert!(plan(d, &env).step("project").is_none(), "{d}");
    }
    assert!(plan(
        "debian-bookworm",
        &[("PROJECT", "keystone"), ("PROFILES", "apache")]
    )
    .step("project")
    .is_none());
}

/// The plan of a stage other than `project`.
fn plan_stage(distro_name: &str, stage: loci::plan::Stage, pairs: &[(&str, &str)]) -> Plan {
    let c = config(pairs);
    let d = distro(distro_name);
    build_plan(
        &PlanInput::new(&c, &d)
            .stage(stage)
            .bindep("bindep.txt", include_str!("../bindep.txt"))
            .pydep("pydep.txt", include_str!("../pydep.txt")),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn clones(p: &Plan, step: &str) -> Vec<(String, String, String, PathBuf, bool)> {
    p.step(step)
        .map(|s| {
            s.actions
                .iter()
                .filter_map(|a| match a {
                    Action::Source(SourceAction::GitClone {
                        var,
                        repo,
                        reference,
                        dest,
                        shallow_no_git,
                    }) => Some((
                        var.clone(),
                        repo.clone(),
                        reference.clone(),
                        dest.clone(),
                        *shallow_no_git,
                    )),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn skyline_installs_its_console_from_git_as_loci_does() {
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "skyline-apiserver"),
            ("SKYLINE_CONSOLE_REF", "stable/2026.1"),
            ("WHEELS", "/w.tar"),
        ],
    );
    let names = step_names(&p);
    let at = names
        .iter()
        .position(|n| *n == "project")
        .expect("a console step");
    assert_eq!(names[at - 2..at], ["install", "coverage"], "{names:?}");
    // LOCI master's default repository, at the ref, into the data dir (a tree already there
    // is used in place); the whole ref is fetched so that pbr finds the version.
    assert_eq!(
        clones(&p, "project"),
        [(
            "SKYLINE_CONSOLE".to_string(),
            "https://opendev.org/openstack/skyline-console".to_string(),
            "stable/2026.1".to_string(),
            PathBuf::from("/tmp/skyline-console"),
            false
        )]
    );
    let cmds: Vec<Vec<String>> = commands(&p, "project").iter().map(argv).collect();
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    let install = &cmds[0];
    assert_eq!(
        install[0], "/tmp/loci-uv/bin/uv",
        "INSTALLER=uv, the default"
    );
    assert_eq!(install.last().unwrap(), "/tmp/skyline-console");
    for want in [
        "--upgrade",
        "--find-links",
        "/tmp/wheels",
        "/tmp/upper-constraints.txt",
    ] {
        assert!(install.contains(&want.to_string()), "{want}: {install:?}");
    }
    let step = p.step("project").unwrap();
    assert!(
        matches!(
            step.actions.last(),
            Some(Action::Project(Hook::Skyline(SkylineHook::CheckConsole)))
        ),
        "{:?}",
        step.actions
    );
    // The console from git is checked like the project: its install covers its tree.
    assert_eq!(
        step.actions[step.actions.len() - 2],
        Action::Coverage(CoverageAction::CheckInstall {
            venv: PathBuf::from("/var/lib/openstack"),
            trees: vec![PathBuf::from("/tmp/skyline-console")],
        })
    );
    assert!(
        step.summary.contains("at stable/2026.1"),
        "{}",
        step.summary
    );
    // The default ref is LOCI's master; uv builds the local tree only when exempted by name.
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "skyline-apiserver"),
            ("INSTALLER", "uv"),
            (
                "SKYLINE_CONSOLE_REPO",
                "git://127.0.0.1:9418/skyline-console",
            ),
        ],
    );
    assert_eq!(
        clones(&p, "project")[0].1,
        "git://127.0.0.1:9418/skyline-console"
    );
    assert_eq!(clones(&p, "project")[0].2, "master");
    let install = argv(&commands(&p, "project")[0]);
    assert_eq!(install[0], "/tmp/loci-uv/bin/uv");
    assert!(
        install.join(" ").contains("--no-binary skyline-console"),
        "{install:?}"
    );
}

#[test]
fn skyline_console_from_the_index_with_skyline_console_repo_pypi() {
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "skyline-apiserver"),
            ("SKYLINE_CONSOLE_REPO", "pypi"),
            ("SKYLINE_CONSOLE_REF", "==8.*"),
            ("KEEP_ALL_WHEELS", "True"),
            ("WHEELS", "/w.tar"),
        ],
    );
    assert!(clones(&p, "project").is_empty(), "no clone from the index");
    let install = argv(&commands(&p, "project")[0]);
    assert_eq!(install.last().unwrap(), "skyline-console==8.*");
    assert!(
        install.contains(&"--no-index".to_string()),
        "KEEP_ALL_WHEELS: from the wheels alone: {install:?}"
    );
    assert!(
        p.step("project")
            .unwrap()
            .summary
            .contains("from the wheels"),
        "{}",
        p.step("project").unwrap().summary
    );
    // A branch is no version on the index.
    let e = Config::from_env(
        &[
            ("PROJECT", "skyline-apiserver"),
            ("SKYLINE_CONSOLE_REPO", "pypi"),
            ("SKYLINE_CONSOLE_REF", "stable/2026.1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("SKYLINE_CONSOLE_REF=stable/2026.1 is not a version of skyline-console"),
        "{e}"
    );
}

#[test]
fn skyline_console_goes_into_the_builder_stage_of_a_two_stage_build() {
    let env = [("PROJECT", "skyline-apiserver"), ("WHEELS", "/w.tar")];
    let b = plan_stage("debian-bookworm", loci::plan::Stage::Builder, &env);
    let names = step_names(&b);
    let at = names
        .iter()
        .position(|n| *n == "project")
        .expect("console in the builder");
    assert_eq!(names[at - 2..at], ["install", "coverage"], "{names:?}");
    let r = plan_stage("debian-bookworm", loci::plan::Stage::Runtime, &env);
    assert!(r.step("project").is_none(), "{:?}", step_names(&r));
    // nova's and horizon's stay in the runtime stage.
    for service in ["nova", "horizon"] {
        let env = [("PROJECT", service), ("WHEELS", "/w.tar")];
        assert!(
            plan_stage("debian-bookworm", loci::plan::Stage::Builder, &env)
                .step("project")
                .is_none()
        );
        assert!(
            plan_stage("debian-bookworm", loci::plan::Stage::Runtime, &env)
                .step("project")
                .is_some()
        );
    }
}

#[test]
fn a_pre_seeded_skyline_console_is_installed_without_cloning() {
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let mut c = config(&[
        ("PROJECT", "skyline-apiserver"),
        // Nothing listens there: the clone must not be tried.
        ("SKYLINE_CONSOLE_REPO", "git://127.0.0.1:9/skyline-console"),
        ("KEEP_ALL_WHEELS", "True"),
        ("WHEELS", wheels.to_str().unwrap()),
    ]);
    c.paths.data_dir = tmp.path().join("data");
    c.paths.sources_dir = tmp.path().join("data");
    c.paths.venv = tmp.path().join("venv");
    // The venv above has pip, not the build's uv (the venv step would provide that).
    c.installer = loci::config::Installer::Pip;
    // A pre-seeded skyline-console tree: package `skyline_console` with `static/index.html`.
    pywheel::project(
        &c.paths.data_dir.join("skyline-console"),
        "skyline-console",
        "0.0.1",
        &[
            ("skyline_console/__init__.py", ""),
            (
                "skyline_console/static/index.html",
                "<html>pre-seeded</html>\n",
            ),
        ],
    );
    for f in ["upper-constraints.txt", "global-requirements.txt"] {
        std::fs::write(c.paths.data_dir.join(f), "").unwrap();
    }
    let venv = std::process::Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&c.paths.venv)
        .status()
        .unwrap();
    assert!(venv.success(), "python3 -m venv failed");
    let p = plan_with(&c, &distro("debian-bookworm"));
    let console = Plan {
        steps: vec![p.step("project").expect("a console step").clone()],
        ..p.clone()
    };
    let mut runner = loci::runner::SystemRunner::new(&c);
    loci::exec::execute(&console, &c, &mut runner).unwrap_or_else(|e| panic!("{e}"));
    let dir = loci::steps::project_specific::skyline::package_dir(&c, &mut runner).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("static/index.html")).unwrap(),
        "<html>pre-seeded</html>\n"
    );
}

#[test]
fn services_without_specific_steps_have_none() {
    for service in [
        "cinder",
        "glance",
        "heat",
        "ironic",
        "neutron",
        "octavia",
        "placement",
    ] {
        assert!(
            plan("debian-bookworm", &[("PROJECT", service)])
                .step("project")
                .is_none(),
            "{service}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// PLUGIN and EXTRA_PROJECTS

#[test]
fn plugins_build_on_a_service_image() {
    for d in ["debian-bookworm", "rocky-9"] {
        let p = plan(
            d,
            &[
                ("PROJECT", "networking-baremetal"),
                ("PLUGIN", "yes"),
                ("PROFILES", "fluent"),
                ("DIST_PACKAGES", "jq"),
            ],
        );
        assert_eq!(
            step_names(&p),
            [
                "wheels",
                "preflight",
                "packages",
                "source",
                "install",
                "coverage",
                "info",
                "cleanup",
                "seal"
            ],
            "{d}"
        );
        // The service image's package lists were removed by its cleanup: a plugin's first
        // install refreshes them.
        let pk = p.step("packages").unwrap();
        match &pk.actions[0] {
            Action::Packages(PackagesAction::Install {
                refresh, packages, ..
            }) => {
                assert!(
                    refresh.is_some(),
                    "{d}: no index refresh before installing {packages:?}"
                );
                assert!(packages.contains(&"jq".to_string()));
            }
            other => panic!("{d}: {other:?}"),
        }
        // It installs into the service image's venv, and purges nothing it did not install.
        // With the build's own uv: a plugin has no venv step, so its install step provides it.
        assert!(matches!(
            p.step("install").unwrap().actions[0],
            Action::Venv(VenvAction::ProvideUv { .. })
        ));
        let install = commands(&p, "install");
        assert_eq!(install[0].program, "/tmp/loci-uv/bin/uv");
        assert!(install[0]
            .args
            .contains(&"/tmp/networking-baremetal".to_string()));
        assert!(
            !commands(&p, "cleanup")
                .iter()
                .any(|c| c.args.iter().any(|a| a == "purge" || a == "remove")),
            "{d}"
        );
    }
    // Without PLUGIN the same project gets the whole build, and its cleanup purges what the
    // build installed for itself (git: the source is a checkout): the assertion above sees
    // purges where there are some.
    let p = plan("debian-bookworm", &[("PROJECT", "networking-baremetal")]);
    for s in ["base", "user", "venv", "pydep"] {
        assert!(p.step(s).is_some(), "{s}");
    }
    assert!(
        commands(&p, "cleanup")
            .iter()
            .any(|c| c.args.iter().any(|a| a == "purge")),
        "{:?}",
        commands(&p, "cleanup")
    );
}

#[test]
fn extra_projects_are_installed_with_the_project_in_one_pip_run() {
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "nova"),
            ("PROJECT_PIP_EXTRAS", "osprofiler"),
            ("EXTRA_PROJECTS", "nova-plugin-one  plugin_two"),
            ("PIP_PACKAGES", "python-openstackclient"),
        ],
    );
    let install = commands(&p, "install");
    assert_eq!(install.len(), 1);
    let args = &install[0].args;
    let tail: Vec<&str> = args[args.len() - 4..].iter().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "/tmp/nova[osprofiler]",
            "/tmp/nova-plugin-one",
            "/tmp/plugin_two",
            "python-openstackclient"
        ]
    );
    let e = Config::from_env(
        &[("PROJECT", "nova"), ("EXTRA_PROJECTS", "../etc")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("EXTRA_PROJECTS entry \"../etc\""),
        "{e}"
    );
}

/// A project whose wheel is the module `name` with `VALUE = name`.
fn tiny_project(dir: &Path, name: &str) {
    let value = format!("VALUE = {name:?}\n");
    pywheel::project(dir, name, "1.0", &[(&format!("{name}.py"), &value)]);
}

#[test]
fn extra_projects_are_pip_installed_with_the_project() {
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let mut c = config(&[
        ("PROJECT", "svc"),
        ("EXTRA_PROJECTS", "extra-one extra_two"),
        ("KEEP_ALL_WHEELS", "True"),
        // The wheels dir, used in place (without WHEELS a build installs from the index).
        ("WHEELS", wheels.to_str().unwrap()),
    ]);
    c.paths.sources_dir = tmp.path().join("data");
    c.paths.data_dir = tmp.path().join("data");
    c.paths.wheels_dir = wheels;
    c.paths.venv = tmp.path().join("venv");
    // pip, run for real (the build's uv would come from the venv step).
    c.installer = loci::config::Installer::Pip;
    tiny_project(&c.paths.sources_dir.join("svc"), "loci_svc");
    tiny_project(&c.paths.sources_dir.join("extra-one"), "loci_extra_one");
    tiny_project(&c.paths.sources_dir.join("extra_two"), "loci_extra_two");
    std::fs::create_dir_all(&c.paths.wheels_dir).unwrap();
    for f in ["upper-constraints.txt", "global-requirements.txt"] {
        std::fs::write(c.paths.sources_dir.join(f), "").unwrap();
    }
    let python = "python3";
    let venv = std::process::Command::new(python)
        .arg("-m")
        .arg("venv")
        .arg(&c.paths.venv)
        .status()
        .unwrap();
    assert!(venv.success(), "python3 -m venv failed");

    let p = plan_with(&c, &distro("debian-bookworm"));
    let install = commands(&p, "install");
    assert_eq!(install.len(), 1);
    assert!(install[0].args.contains(&"--no-index".to_string()));
    let mut runner = loci::runner::SystemRunner::default();
    loci::runner::Runner::run(&mut runner, &install[0]).unwrap_or_else(|e| panic!("{e}"));

    let out = e2e::check(std::process::Command::new(c.paths.venv.join("bin/python"))
        .args(["-c", "import loci_svc, loci_extra_one, loci_extra_two; print(loci_svc.VALUE, loci_extra_one.VALUE, loci_extra_two.VALUE)"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "loci_svc loci_extra_one loci_extra_two"
    );
}

// ------------------------------------------------------------------------------------------
// The Debian names exist for real

/// Every package of every service × profile plan on bookworm (base packages included).
fn bookworm_packages() -> BTreeSet<String> {
    let dist = distro("debian-bookworm");
    let mut all = BTreeSet::new();
    for (service, profiles) in SERVICES.iter().chain([("requirements", &[][..])].iter()) {
        for set in profile_sets(profiles) {
            let p = plan_with(
                &config(&[("PROJECT", service), ("PROFILES", &set.join(" "))]),
                &dist,
            );
            for s in p.steps.iter().filter(|s| s.name != "pydep") {
                all.extend(s.packages.iter().filter(|x| !x.starts_with('/')).cloned());
            }
            if *service == "requirements" {
                let c = config(&[("PROJECT", service)]);
                let input =
                    PlanInput::new(&c, &dist).bindep("bindep.txt", include_str!("../bindep.txt"));
                all.extend(loci::steps::packages::bindep_packages(&input).unwrap());
            }
        }
    }
    all
}

#[test]
fn trove_with_loci_masters_dist_packages_is_looked_up_before_anything_changes() {
    // LOCI master's trove: DIST_PACKAGES='mysql-client postgresql-client curl'. On bookworm
    // mysql-client is virtual: the preflight step, before the first change, names it and its
    // origin (the check itself: steps::preflight's tests, with bookworm's apt answer).
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "trove"),
            ("PROFILES", "apache"),
            ("DIST_PACKAGES", "mysql-client postgresql-client curl"),
        ],
    );
    let names = step_names(&p);
    assert_eq!(&names[..3], ["wheels", "preflight", "base"], "{names:?}");
    let Action::Preflight(PreflightAction::CheckPackages { packages, refresh }) =
        &p.step("preflight").unwrap().actions[0]
    else {
        panic!("{:?}", p.step("preflight"))
    };
    assert_eq!(refresh.as_ref().unwrap().program, "apt-get");
    let origin = |n: &str| {
        packages
            .iter()
            .find(|w| w.name == n)
            .map(|w| w.origin.clone())
            .unwrap_or_else(|| panic!("{n} not looked up"))
    };
    assert_eq!(origin("mysql-client"), "DIST_PACKAGES");
    assert!(
        origin("apache2").starts_with("bindep.txt:"),
        "{}",
        origin("apache2")
    );
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn bookworm_package_names_exist() {
    e2e::require_docker();
    let packages = bookworm_packages();
    assert!(packages.len() > 80, "{}", packages.len());
    let mut args: Vec<String> = [
        "run",
        "--rm",
        "--network",
        "host",
        e2e::ROOTFS_IMAGE,
        "sh",
        "-c",
    ]
    .map(String::from)
    .to_vec();
    // The script is a constant; the package names arrive as positional parameters.
    args.push("apt-get update -qq >/dev/null && apt-cache policy \"$@\"".into());
    args.push("apt-cache-policy".into());
    args.extend(packages.iter().cloned());
    let policy = e2e::stdout(e2e::docker().args(&args));
    // The preflight step's reading of apt's answer.
    let names: Vec<String> = packages.iter().cloned().collect();
    let missing: Vec<String> = loci::steps::preflight::apt_unavailable(&names, &policy)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        missing.is_empty(),
        "no candidate on Debian bookworm for: {}",
        missing.join(" ")
    );
    println!("{} package names of bookworm plans exist", packages.len());
}

/// uv builds a local tree under `--only-binary :all:` only when it is exempted by its
/// distribution name: the repositories whose distribution is named otherwise (placement is
/// openstack-placement, ...) through the mapping, a tree already in place by its own name.
#[test]
fn uv_exempts_each_local_tree_by_its_distribution_name() {
    let no_binary = |p: &Plan| -> Vec<String> {
        let install = argv(&commands(p, "install")[0]);
        install
            .windows(2)
            .filter(|w| w[0] == "--no-binary")
            .map(|w| w[1].clone())
            .collect()
    };
    for (project, dist) in [
        ("placement", "openstack-placement"),
        ("heat", "openstack-heat"),
        ("cyborg", "openstack-cyborg"),
        ("watcher", "python-watcher"),
        ("keystone", "keystone"),
    ] {
        let p = plan(
            "debian-bookworm",
            &[
                ("PROJECT", project),
                ("WHEELS", "/tmp/wheels"),
                ("SOURCES_DIR", "/nonexistent"),
            ],
        );
        assert_eq!(no_binary(&p), [dist], "{project}");
    }
    // A tree in place (an sdist) names itself.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mything")).unwrap();
    std::fs::write(
        dir.path().join("mything/PKG-INFO"),
        "Metadata-Version: 2.1\nName: my.Thing_x\nVersion: 1\n",
    )
    .unwrap();
    let sources = dir.path().display().to_string();
    let p = plan(
        "debian-bookworm",
        &[
            ("PROJECT", "mything"),
            ("WHEELS", "/tmp/wheels"),
            ("SOURCES_DIR", &sources),
        ],
    );
    assert_eq!(no_binary(&p), ["my-thing-x"]);
}
