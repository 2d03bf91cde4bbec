#!/bin/sh
# Prepares a CentOS Stream image for loci service builds. Run by the Dockerfile beside it, with
# this build context mounted at /mnt.
set -eux

ctx=/mnt

# Keep the images small: no documentation, no weak dependencies.
{
    echo "tsflags=nodocs"
    echo "install_weak_deps=False"
    case "${ALLOW_UNAUTHENTICATED}" in
        true|True|yes|1) echo "gpgcheck=False"; echo "repo_gpgcheck=False" ;;
    esac
} >> /etc/dnf/dnf.conf

. /etc/os-release
release="${VERSION_ID%%.*}"

# The package mirror, kept in the image so service builds over it use it too.
if [ -n "${DNF_MIRROR}" ]; then
    mkdir -p /etc/yum.repos.d/orig
    find /etc/yum.repos.d -maxdepth 1 -name '*.repo' -exec mv {} /etc/yum.repos.d/orig/ \;
    # Stream 9 signs with RPM-GPG-KEY-centosofficial, Stream 10 with ...-SHA256: trust what
    # the image ships.
    keys="$(ls /etc/pki/rpm-gpg/RPM-GPG-KEY-centosofficial* | sed 's|^|file://|' | tr '\n' ' ')"
    for repo in BaseOS AppStream CRB; do
        id="$(echo "${repo}" | tr 'A-Z' 'a-z')"
        cat >> /etc/yum.repos.d/loci-mirror.repo <<REPO
[${id}]
name=CentOS Stream ${release} - ${repo} (${DNF_MIRROR})
baseurl=${DNF_MIRROR%/}/${release}-stream/${repo}/\$basearch/os/
gpgcheck=1
gpgkey=${keys}
enabled=1

REPO
    done
    rm -rf /etc/yum.repos.d/orig
else
    # bindep asks for -devel packages that live in CRB.
    dnf install -y 'dnf-command(config-manager)'
    dnf config-manager --set-enabled crb
fi

# Extra trusted CA certificates from certs/ (before anything talks TLS).
for f in "${ctx}"/certs/*.crt "${ctx}"/certs/*.pem; do
    [ -f "${f}" ] || continue
    name="$(basename "${f}")"
    cp "${f}" "/etc/pki/ca-trust/source/anchors/loci-${name%.*}.pem"
done
update-ca-trust

dnf upgrade -y
# What every service needs at run time (loci's base step finds them here). git and patch,
# needed only while building, are not: loci installs and purges them within the service's own
# RUN, so they never take room in a layer.
dnf install -y \
    ca-certificates \
    sudo \
    python3 \
    python3-pip \
    python3-libs \
    shadow-utils \
    procps-ng \
    findutils \
    tar \
    gzip
update-ca-trust

if [ -n "${CEPH_REPO}" ]; then
    cat > /etc/yum.repos.d/ceph.repo <<REPO
[ceph]
name=Ceph
baseurl=${CEPH_REPO}
gpgcheck=1
gpgkey=${CEPH_KEY}
enabled=1
REPO
fi

dnf clean all
rm -rf /var/cache/dnf/* /var/log/dnf* /var/log/hawkey.log /var/cache/ldconfig/aux-cache /var/lib/dnf/history* /tmp/* /var/tmp/* /root/.cache
find /usr -name __pycache__ -prune -exec rm -rf {} +
