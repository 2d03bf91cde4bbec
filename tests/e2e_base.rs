//! The Debian base image, built both ways (the root's Dockerfile.base as LOCI master builds it,
//! and dockerfiles/debian alone) on a debootstrap rootfs with the host's CA bundle as an extra
//! trusted certificate: what every service build needs is there, the extra
//! CA is trusted by Python's TLS (HTTPS to PyPI goes through a re-signing proxy on the test
//! machines), and no apt lists or caches are left.
//!
//! Needs Docker: run with `sudo tests/run.sh` (a plain `cargo test` lists it as ignored).

#[path = "support/e2e.rs"]
mod e2e;

use e2e::*;

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn debian_base_has_the_service_basics_and_trusts_the_extra_ca() {
    require_docker();
    let _guard = lock();
    check_base(&base_image());
}

#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn the_distro_directory_builds_the_same_base() {
    require_docker();
    let _guard = lock();
    let from_dir = base_image_from_distro_dir();
    check_base(&from_dir);
    let packages = |image: &str| sh_in(image, "dpkg-query -W -f '${Package}\\n' | sort");
    assert_eq!(
        packages(&from_dir),
        packages(&base_image()),
        "dockerfiles/debian and Dockerfile.base install different packages"
    );
}

fn check_base(base: &str) {
    let facts = sh_in(
        base,
        r#"set -e
for p in python3 python3-venv ca-certificates netbase sudo lsb-release; do
    dpkg-query -W -f '${Status}' "$p" | grep -q 'install ok installed' && echo "PKG $p"
done
v=$(python3 -c 'import sys; print(sys.version_info.minor)')
dpkg-query -W -f '${Status}' "libpython3.$v" | grep -q 'install ok installed' && echo "PKG libpython3"
python3 -m venv /tmp/v && echo VENV-OK
echo "LANG=$LANG SSL_CERT_FILE=$SSL_CERT_FILE PIP_CERT=$PIP_CERT REQUESTS_CA_BUNDLE=$REQUESTS_CA_BUNDLE"
ls /usr/local/share/ca-certificates/loci/
ls -A /var/lib/apt/lists | grep -v -x -e lock -e partial -e auxfiles | sed 's/^/LEFT list: /'
ls -A /var/cache/apt/archives | grep '\.deb$' | sed 's/^/LEFT deb: /'
command -v git && echo "LEFT: git (build-only, installed by loci in the service RUN)"
true"#,
    );
    for p in [
        "python3",
        "python3-venv",
        "ca-certificates",
        "netbase",
        "sudo",
        "lsb-release",
        "libpython3",
    ] {
        assert!(
            facts.contains(&format!("PKG {p}\n")),
            "{p} is not installed in the base:\n{facts}"
        );
    }
    assert!(facts.contains("VENV-OK"), "{facts}");
    let bundle = "/etc/ssl/certs/ca-certificates.crt";
    assert!(
        facts.contains(&format!(
            "LANG=C.UTF-8 SSL_CERT_FILE={bundle} PIP_CERT={bundle} REQUESTS_CA_BUNDLE={bundle}"
        )),
        "{facts}"
    );
    if !host_ca_bundle().is_empty() {
        assert!(
            facts.contains("host-ca.crt"),
            "the extra CA from certs/ is not installed:\n{facts}"
        );
        // The extra CA is in the bundle every TLS client of the image uses.
        let ok = stdout(docker().args([
            "run", "--rm", "--network", "host", base, "python3", "-c",
            "import urllib.request; print(urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=60).status)",
        ]));
        assert_eq!(ok, "200");
    }
    assert!(
        !facts.contains("LEFT"),
        "apt leftovers in the base:\n{facts}"
    );
    let size: u64 = stdout(docker().args(["image", "inspect", "--format", "{{.Size}}", base]))
        .parse()
        .unwrap();
    record(&format!(
        "E2E-IMAGE-SIZE {base} {size} bytes ({:.1} MB)",
        size as f64 / 1e6
    ));
}
