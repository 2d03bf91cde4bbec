#!/bin/sh
# Prepares a Debian image for loci service builds (LOCI's scripts/base.sh). Run by the
# Dockerfile beside it, with this build context mounted at /mnt.
set -eux

ctx=/mnt

# LOCI's ALLOW_UNAUTHENTICATED.
cat > /etc/apt/apt.conf.d/90loci-allow-unauthenticated <<CONF
APT::Get::AllowUnauthenticated "${ALLOW_UNAUTHENTICATED}";
Acquire::AllowInsecureRepositories "${ALLOW_UNAUTHENTICATED}";
Acquire::AllowDowngradeToInsecureRepositories "${ALLOW_UNAUTHENTICATED}";
CONF

# Keep the images small: no documentation, manual pages or translations (copyright files stay).
cat > /etc/dpkg/dpkg.cfg.d/90loci-nodoc <<CONF
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
CONF
# Purging build-only packages (git, patch) with --auto-remove must take their dependencies
# too (perl: debconf merely suggests it, and apt keeps suggested packages by default).
cat > /etc/apt/apt.conf.d/90loci-small <<CONF
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT::AutoRemove::RecommendsImportant "false";
APT::AutoRemove::SuggestsImportant "false";
Acquire::Languages "none";
CONF

. /etc/os-release
codename="${VERSION_CODENAME:?/etc/os-release has no VERSION_CODENAME}"

# The package mirror, kept in the image so service builds over it use it too.
if [ -n "${APT_MIRROR}" ]; then
    trusted=""
    mirror="${APT_MIRROR}"
    case "${mirror}" in
        "[trusted=yes] "*) trusted=yes; mirror="${mirror#\[trusted=yes\] }" ;;
    esac
    rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
    {
        echo "Types: deb"
        echo "URIs: ${mirror}"
        echo "Suites: ${codename} ${codename}-updates"
        echo "Components: main"
        if [ -n "${trusted}" ]; then echo "Trusted: yes"; fi
        if [ -n "${APT_SECURITY_MIRROR}" ]; then
            echo
            echo "Types: deb"
            echo "URIs: ${APT_SECURITY_MIRROR}"
            echo "Suites: ${codename}-security"
            echo "Components: main"
            if [ -n "${trusted}" ]; then echo "Trusted: yes"; fi
        fi
    } > /etc/apt/sources.list.d/debian.sources
fi

# --- APT_MIRROR_HOST (LOCI master's): a mirror host for this build only. Its sources replace
# the image's (trusted, as LOCI writes them: http until ca-certificates is installed, then
# https), and the image's own sources are put back at the end: the image keeps them.
mirror_host_sources="/etc/apt/sources.list.d/loci-mirror-host.sources"
mirror_host_use() { # SCHEME: http or https
    [ -n "${APT_MIRROR_HOST:-}" ] || return 0
    if [ ! -e "${mirror_host_sources}" ]; then
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
            if [ -f "${f}" ]; then mv "${f}" "${f}.loci-orig"; fi
        done
    fi
    {
        echo "Types: deb"
        echo "URIs: $1://${APT_MIRROR_HOST}/debian"
        echo "Suites: ${codename} ${codename}-updates"
        echo "Components: main"
        echo "Trusted: yes"
        echo
        echo "Types: deb"
        echo "URIs: $1://${APT_MIRROR_HOST}/debian-security"
        echo "Suites: ${codename}-security"
        echo "Components: main"
        echo "Trusted: yes"
    } > "${mirror_host_sources}"
}
mirror_host_revert() {
    [ -n "${APT_MIRROR_HOST:-}" ] || return 0
    rm -f "${mirror_host_sources}"
    for f in /etc/apt/sources.list.loci-orig /etc/apt/sources.list.d/*.loci-orig; do
        if [ -f "${f}" ]; then mv "${f}" "${f%.loci-orig}"; fi
    done
}
# --- end APT_MIRROR_HOST
mirror_host_use http

# Extra trusted CA certificates from certs/ (before anything talks TLS).
certs=""
for f in "${ctx}"/certs/*.crt "${ctx}"/certs/*.pem; do
    [ -f "${f}" ] && certs="${certs} ${f}"
done
if [ -n "${certs}" ]; then
    mkdir -p /usr/local/share/ca-certificates/loci
    for f in ${certs}; do
        name="$(basename "${f}")"
        cp "${f}" "/usr/local/share/ca-certificates/loci/${name%.*}.crt"
    done
fi

apt-get update
if [ -n "${APT_MIRROR_HOST:-}" ]; then
    # The mirror host by https from here on, as LOCI switches once ca-certificates is there.
    apt-get install -y --no-install-recommends ca-certificates
    mirror_host_use https
    apt-get update
fi
apt-get upgrade -y
# What every service needs at run time (loci's base step finds them here). git and patch,
# needed only while building, are not: loci installs and purges them within the service's own
# RUN, so they never take room in a layer.
apt-get install -y --no-install-recommends \
    ca-certificates \
    netbase \
    lsb-release \
    sudo \
    python3 \
    python3-venv
# Only where the release still ships it (trixie and noble only mention it: no candidate).
if [ -n "$(apt-cache madison python3-distutils 2>/dev/null)" ]; then
    apt-get install -y --no-install-recommends python3-distutils
fi
apt-get install -y --no-install-recommends \
    "libpython3.$(python3 -c 'import sys; print(sys.version_info.minor)')"
update-ca-certificates

if [ -n "${CEPH_REPO}" ]; then
    python3 - "${CEPH_KEY}" /etc/apt/trusted.gpg.d/ceph.asc <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=60) as r, open(sys.argv[2], "wb") as out:
    out.write(r.read())
PY
    echo "${CEPH_REPO}" > /etc/apt/sources.list.d/ceph.list
fi

mirror_host_revert
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old \
    /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache /tmp/* /var/tmp/* /root/.cache
find /usr -name __pycache__ -prune -exec rm -rf {} +
