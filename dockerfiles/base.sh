#!/bin/sh
# Dockerfile.base (at the repository root): runs the base script of the image's distro family,
# dockerfiles/<debian|ubuntu|centos>/base.sh, with the root's certs/ as its certs/.
set -eu
. /etc/os-release
case "${ID}" in
    debian) family=debian ;;
    ubuntu) family=ubuntu ;;
    centos | rocky | almalinux | rhel | ol | fedora) family=centos ;;
    *)
        case " ${ID_LIKE:-} " in
            *" ubuntu "*) family=ubuntu ;;
            *" debian "*) family=debian ;;
            *" rhel "* | *" centos "* | *" fedora "*) family=centos ;;
            *) echo "Dockerfile.base: unsupported distribution ID=${ID} (ID_LIKE=${ID_LIKE:-}); use debian, ubuntu or a CentOS Stream / Rocky image as FROM" >&2; exit 1 ;;
        esac
        ;;
esac
echo "Dockerfile.base: ${ID} ${VERSION_ID:-} -> dockerfiles/${family}/base.sh"
sh /mnt/dockerfiles/${family}/base.sh
if [ ! -e /etc/ssl/certs/ca-certificates.crt ] && [ -e /etc/pki/tls/certs/ca-bundle.crt ]; then
    mkdir -p /etc/ssl/certs
    ln -s /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/certs/ca-certificates.crt
fi
