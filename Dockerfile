# loci: build an OpenStack service image from source.
#
#   DOCKER_BUILDKIT=1 docker build --network host \
#       --build-arg FROM=loci-base:debian \
#       --build-arg PROJECT=keystone \
#       --build-arg WHEELS=127.0.0.1:5000/loci/requirements:2026.1 \
#       --build-arg LOCI_IMAGE=loci-bin \
#       -t keystone .
#
# One RUN does the whole build with the static `loci` binary. Nothing of the build machinery
# lands in a layer: the binary, bindep.txt/pydep.txt (+ EXTRA_BINDEP/EXTRA_PYDEP) and the data
# dir (`data/`, seen as /tmp: pre-seeded sources, EXTRA_PROJECTS, wheels) are bind mounts, and
# writes to them are discarded with the mounts.
#
# Needs BuildKit (DOCKER_BUILDKIT=1); the built-in Dockerfile frontend is enough (no `# syntax=`).
# Every build arg is documented in README.md.

# The image the service is built on: a base built from dockerfiles/<distro> (LOCI: ubuntu).
ARG FROM=ubuntu:noble
# Where the loci binary comes from: the default compiles it from this repository in a Rust
# image (needs crates.io); set LOCI_IMAGE to an image holding a static binary at /loci to build
# offline (an unused stage is never built, so RUST_IMAGE is then never pulled).
ARG LOCI_IMAGE=loci-builder
ARG RUST_IMAGE=rust:1-bookworm

# ---------------------------------------------------------------------------------------------
# The static loci binary, compiled from this repository.
FROM ${RUST_IMAGE} AS loci-compile
RUN --mount=type=bind,target=/src,rw \
    --mount=type=cache,id=loci-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=loci-cargo-target,target=/cargo-target \
    cd /src \
    && RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=/cargo-target \
       cargo build --release --locked --target x86_64-unknown-linux-gnu \
    && cp /cargo-target/x86_64-unknown-linux-gnu/release/loci /loci \
    && /loci --version

FROM scratch AS loci-builder
COPY --from=loci-compile /loci /loci

# The binary actually used: the stage above, or LOCI_IMAGE (e.g. a `FROM scratch` image that
# holds only /loci).
FROM ${LOCI_IMAGE} AS loci

# ---------------------------------------------------------------------------------------------
# What the build RUN mounts at /mnt: the binary and LOCI's /opt/loci files. A separate stage,
# so none of it is in the service image. (Mounted at /mnt, a directory every base has, because
# a bind mount on a missing path leaves an empty stub behind in the layer.)
FROM scratch AS loci-files
ARG EXTRA_BINDEP=""
ARG EXTRA_PYDEP=""
COPY --from=loci /loci /loci
COPY bindep.txt pydep.txt ${EXTRA_BINDEP} ${EXTRA_PYDEP} /opt/loci/

# ---------------------------------------------------------------------------------------------
# The service image.
FROM ${FROM}

ENV PATH=/var/lib/openstack/bin:$PATH
ENV LANG=C.UTF-8

ARG PROJECT
ARG WHEELS=loci/requirements:master-ubuntu
ARG PROJECT_REPO=https://opendev.org/openstack/${PROJECT}
ARG PROJECT_REF=master
ARG PROJECT_RELEASE=master
ARG PROJECT_PIP_EXTRAS=""
ARG EXTRA_PROJECTS=""
ARG DISTRO=""
ARG PROFILES=""
ARG PIP_PACKAGES=""
ARG PIP_ARGS=""
ARG PIP_WHEEL_ARGS=$PIP_ARGS
ARG DIST_PACKAGES=""
ARG PLUGIN=no
ARG EXTRA_BINDEP=""
ARG EXTRA_PYDEP=""
ARG KEEP_ALL_WHEELS="False"
# The Python installer: pip (LOCI's) or uv (same inputs, much faster).
ARG INSTALLER=pip
ARG REGISTRY_PROTOCOL="detect"
ARG REGISTRY_INSECURE="False"
ARG REGISTRY_AUTH_FILE=""
ARG PIP_CONSTRAINT=""
ARG SETUPTOOL_CONSTRAINT=""
ARG WHEEL_CONSTRAINT=""
ARG COPY_DEFAULT_CONFIG_FILES="no"

# NOTE: only used by apt/dpkg; it is not kept in the image.
ARG DEBIAN_FRONTEND=noninteractive

ARG UID=42424
ARG GID=42424

ARG NOVNC_REPO=https://github.com/novnc/novnc
ARG NOVNC_REF=v1.3.0
ARG SPICE_REPO=https://gitlab.freedesktop.org/spice/spice-html5.git
ARG SPICE_REF=spice-html5-0.3.0
ARG NOVA_TSS_USER=tss
ARG NOVA_TSS_UID=42434
ARG NOVA_TSS_GID=42434
# No default here: loci's own default list applies unless one is given.
ARG HORIZON_EXTRA_PANELS
# keystone's mod_oauth2 profile: URLs of the .debs ({codename} is substituted); loci's default
# applies unless one is given.
ARG MOD_OAUTH2_URL
ARG LIBOAUTH2_URL

# PROJECT=requirements only: build only these constraints (names) or those listed in a file
# (one name a line, e.g. /tmp/closure.txt from the data dir). Empty: every constraint.
ARG REQUIREMENTS_ONLY=""
ARG REQUIREMENTS_ONLY_FILE=""

# Extra trust for HTTPS (no default: the base image's ENV applies unless one is given).
ARG SSL_CERT_FILE
ARG SSL_CERT_DIR

# /tmp gets its usual mode back (the data dir's own is 0755: apt's _apt user writes to /tmp).
# The registry credentials for WHEELS=image can be given as a BuildKit secret instead of a
# file: `--secret id=registry-auth,src=$HOME/.docker/config.json`.
RUN --mount=type=bind,source=data,target=/tmp,rw \
    --mount=type=bind,from=loci-files,target=/mnt,rw \
    --mount=type=secret,id=registry-auth \
    chmod 1777 /tmp && exec /mnt/loci build --loci-dir /mnt/opt/loci

ARG IMAGE_CREATED=""
ARG IMAGE_REVISION=""
LABEL org.opencontainers.image.title="${PROJECT}" \
      org.opencontainers.image.source="${PROJECT_REPO}" \
      org.opencontainers.image.revision="${IMAGE_REVISION:-${PROJECT_REF}}" \
      org.opencontainers.image.version="${PROJECT_RELEASE}" \
      org.opencontainers.image.created="${IMAGE_CREATED}"
