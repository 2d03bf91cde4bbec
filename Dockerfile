# loci: build an OpenStack service image from source, LOCI's build arguments, one Dockerfile.
#
#   docker build --network host --build-arg FROM=loci/base:debian \
#       --build-arg PROJECT=keystone --build-arg WHEELS=loci/requirements:2026.1 -t keystone .
#
# Targets (LOCI master's first two; `project` is the default, as in LOCI):
#   requirements  PROJECT=requirements: the wheels of upper-constraints.txt (the WHEELS image)
#   project       the default: PROJECT=requirements builds `requirements`; a service with
#                 WHEELS is built in one stage, its wheels mounted from WHEELS; a service
#                 without WHEELS (the default: PyPI and UPPER_CONSTRAINTS) is `runtime`'s
#   runtime       the service image in two stages: `builder` makes /var/lib/openstack (with
#                 compilers and -dev packages when WHEELS is empty and sdists are built), and
#                 the final image gets only that venv, the run-time packages, the user and the
#                 project-specific files
#
# WHEELS is an image (a local one, a registry's, or a named context: `--build-context
# wheels=docker-image://IMAGE`, compose `additional_contexts`, bake `contexts`), which BuildKit
# mounts at WHEELS_PATH; or an http(s) URL or absolute path of a tarball or directory, which loci
# fetches itself; or empty: no requirements image, packages from PyPI against UPPER_CONSTRAINTS.
#
# One RUN per stage does the work with the static `loci` binary. Nothing of the build machinery
# lands in a layer: the binary, bindep.txt/pydep.txt (+ EXTRA_BINDEP/EXTRA_PYDEP), the data dir
# (`data/`, seen as /tmp) and the wheels are mounts.
#
# Needs Docker 26+ (BuildKit 0.13, Dockerfile frontend 1.7: the `${WHEELS##...}` expansions
# below) or buildx with a BuildKit >= 0.13; no `# syntax=` line is needed there. README.md lists
# every build argument.

# The wheels: BuildKit mounts WHEELS when it is an image. A URL (`scheme://...`), an absolute
# path or an empty value mounts an empty stage instead, and loci takes WHEELS from there.
# Empty by default (LOCI's default names its own published image): no requirements image,
# packages from PyPI against the release's upper-constraints, built in two stages.
ARG WHEELS=""
ARG WHEELS_NO_PATH=${WHEELS##/*}
ARG WHEELS_IMAGE=${WHEELS_NO_PATH##*://*}

# What the default target, `project`, builds (the last stage below):
#   PROJECT=requirements        the `requirements` stage (LOCI 2024/2025's
#                               `docker build . --build-arg PROJECT=requirements`, no --target)
#   a service with WHEELS       `project-one-stage`: one stage, the wheels mounted (LOCI's way)
#   a service without WHEELS    `runtime`: two stages, compilers and -dev packages only in the
#                               builder, so the image holds no compiler, git or pip cache
ARG PROJECT
ARG PROJECT_OR_NONE=${PROJECT:-none}
ARG NOT_REQUIREMENTS=${PROJECT_OR_NONE#requirements}
ARG SERVICE_STAGE=${WHEELS:+project-one-stage}
ARG PROJECT_STAGE=${NOT_REQUIREMENTS:+${SERVICE_STAGE:-runtime}}

# The image the service is built on: a base built from dockerfiles/<distro> (LOCI: ubuntu).
ARG FROM=ubuntu:noble

# FROM and WHEELS given by digest (`NAME@sha256:...`, which the engine verifies as it pulls):
# their digests, for the provenance labels; empty when given by tag. (The `:-@` keeps the
# pattern from being empty: BuildKit 0.13's lexer panics on `${X#${EMPTY}}` and takes dockerd
# down with it.)
ARG FROM_AT=${FROM#*@}
ARG FROM_DIGEST=${FROM_AT#${FROM:-@}}
ARG WHEELS_AT=${WHEELS#*@}
ARG WHEELS_DIGEST=${WHEELS_AT#${WHEELS:-@}}
# Where the loci binary comes from: the default compiles it from this repository in a Rust
# image (needs crates.io); set LOCI_IMAGE to an image holding a static binary at /loci to build
# offline (an unused stage is never built, so RUST_IMAGE is then never pulled).
ARG LOCI_IMAGE=loci-builder
ARG RUST_IMAGE=rust:1-bookworm
ARG LOCI_CARGO_PROFILE=release

# ---------------------------------------------------------------------------------------------
# The static loci binary, compiled from this repository for the image's architecture
# (TARGETARCH: amd64 or arm64) on the build platform, never under emulation: across
# architectures, tools/loci-compile.sh adds what RUST_IMAGE lacks (rustup's target, Debian's
# cross gcc); the toolchain image of tools/cross-build.sh has both. cargo's target dir is a
# cache per target architecture (cargo keeps each compiler's artifacts apart in it).
FROM --platform=${BUILDPLATFORM} ${RUST_IMAGE} AS loci-compile
ARG TARGETARCH
ARG LOCI_CARGO_PROFILE
RUN --mount=type=bind,target=/src,rw \
    --mount=type=cache,id=loci-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=loci-cargo-target-${TARGETARCH},target=/cargo-target \
    cd /src && CARGO_TARGET_DIR=/cargo-target CARGO_PROFILE="${LOCI_CARGO_PROFILE}" \
        sh tools/loci-compile.sh "${TARGETARCH}" /loci

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
COPY --link --from=loci /loci /loci
# (An empty COPY source is the whole context, which would copy data/ here and make every change
# of the project's source a new layer: without EXTRA_*, bindep.txt and pydep.txt come twice.)
COPY --link bindep.txt pydep.txt ${EXTRA_BINDEP:-bindep.txt} ${EXTRA_PYDEP:-pydep.txt} /opt/loci/

# ---------------------------------------------------------------------------------------------
# The wheels image, mounted at WHEELS_PATH by the service builds.
# If this FROM fails: WHEELS names an image the engine cannot find. Build it (--target
# requirements), pull it, or name it as a context: --build-context wheels=docker-image://IMAGE
FROM ${WHEELS_IMAGE:-scratch} AS wheels

# ---------------------------------------------------------------------------------------------
# What every target shares: the base image, the environment and the build arguments.
FROM ${FROM} AS common

ENV PATH=/var/lib/openstack/bin:$PATH
ENV LANG=C.UTF-8

ARG FROM
ARG PROJECT
ARG WHEELS
# Where the WHEELS image is mounted (LOCI master's; not under /tmp, the data dir).
ARG WHEELS_PATH=/wheels
# No requirements image (WHEELS empty): the upper-constraints to build against, an http(s) URL
# or a path in the data dir (default: OpenStack's published file for PROJECT_RELEASE).
ARG UPPER_CONSTRAINTS=""
ARG PROJECT_REPO=https://opendev.org/openstack/${PROJECT}
ARG PROJECT_REF=master
ARG PROJECT_RELEASE=master
ARG PROJECT_PIP_EXTRAS=""
ARG EXTRA_PROJECTS=""
ARG DISTRO=""
ARG PROFILES=""
# LOCI master's; no script of LOCI reads it. loci accepts it and logs that it ignores it (the
# apt sources are the base image's: Dockerfile.base's APT_MIRROR).
ARG APT_MIRROR
ARG PIP_PACKAGES=""
ARG PIP_ARGS=""
ARG PIP_WHEEL_ARGS=$PIP_ARGS
ARG DIST_PACKAGES=""
ARG PLUGIN=no
ARG EXTRA_BINDEP=""
ARG EXTRA_PYDEP=""
ARG KEEP_ALL_WHEELS="False"
# The Python installer: uv (same inputs, much faster; it runs from outside the venv) or pip
# (LOCI's). Empty: loci's default, uv, or pip with SOURCE_DATE_EPOCH (uv records build times).
ARG INSTALLER=""
ARG REGISTRY_PROTOCOL="detect"
ARG REGISTRY_INSECURE="False"
ARG REGISTRY_AUTH_FILE=""
# Where the project's source is cloned (or found): SOURCES_DIR/PROJECT (LOCI master's). The
# data dir is /tmp; a tree cloned elsewhere stays in the image, as in LOCI.
ARG SOURCES_DIR="/tmp"
# The venv's toolchain (LOCI master's names; PIP_CONSTRAINT is loci's older name of the first).
ARG PIP_VERSION_CONSTRAINT=""
ARG PIP_CONSTRAINT=""
# As of setuptools 82.0.0 (2026-02-08) pkg_resources is gone: the venv's setuptools and the
# build constraints of everything built from source are capped (empty: no cap).
ARG SETUPTOOL_CONSTRAINT="<81"
ARG WHEEL_CONSTRAINT=""
# The tools left in the venv for child images ("" leaves none; LOCI master's set adds uv,
# about 40 MB: "bindep pkginfo uv").
ARG VENV_TOOLS="bindep pkginfo"
ARG COPY_DEFAULT_CONFIG_FILES="no"

# NOTE: only used by apt/dpkg; it is not kept in the image.
ARG DEBIAN_FRONTEND=noninteractive

ARG UID=42424
ARG GID=42424

ARG NOVNC_REPO=https://github.com/novnc/novnc
ARG NOVNC_REF=v1.0.0
ARG SPICE_REPO=https://gitlab.freedesktop.org/spice/spice-html5.git
ARG SPICE_REF=spice-html5-0.1.6
ARG NOVA_TSS_USER=tss
ARG NOVA_TSS_UID=42434
ARG NOVA_TSS_GID=42434
# skyline-apiserver's console: a git repository and ref, or SKYLINE_CONSOLE_REPO=pypi for the
# release on the index (SKYLINE_CONSOLE_REF then a version such as 8.0.0 or ==8.*).
ARG SKYLINE_CONSOLE_REPO=https://opendev.org/openstack/skyline-console
ARG SKYLINE_CONSOLE_REF=master
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
# PROJECT=requirements only: how many `pip wheel` run at once (empty: four per CPU).
ARG REQUIREMENTS_JOBS=""
# PROJECT=requirements only: look the pinned constraints up on pip's index first (PEP 691);
# those with a binary wheel for the image's Python are not built (KEEP_ALL_WHEELS=False: LOCI
# drops downloaded wheels) or downloaded directly (True). False: one pip wheel per constraint.
ARG REQUIREMENTS_PREFETCH=True

# Package caches: apt's (or dnf's) downloads and lists, and pip's and uv's caches, are kept
# in BuildKit cache mounts between builds, one pair per FROM and TARGETPLATFORM, never in a
# layer. PACKAGE_CACHE=False builds without them, as LOCI's scripts do (the mounts stay
# attached, unused). LOCI_CACHE_DIR is where the RUNs below mount them.
ARG PACKAGE_CACHE=True
ARG LOCI_CACHE_DIR=/mnt/cache
ARG TARGETPLATFORM

# Reproducible builds: the time of everything loci writes (the SBOM's timestamp, the mtime of
# every file the build wrote); image_info.json then records no durations. README.md,
# "Reproducible images".
ARG SOURCE_DATE_EPOCH

# loci's HTTP timeouts in seconds (no default: loci's 10 s to connect, 30 s per read).
ARG LOCI_HTTP_CONNECT_TIMEOUT
ARG LOCI_HTTP_READ_TIMEOUT

# Extra trust for HTTPS (no default: the base image's ENV applies unless one is given).
ARG SSL_CERT_FILE
ARG SSL_CERT_DIR

# The image's labels: the OCI annotation keys (org.opencontainers.image.*), and loci's own under
# org.openstack.loci.*. The keys loci used before (loci.version, loci.wheels, loci.wheels.digest)
# are set too, for one release. README.md, "Labels".
# The loci release this Dockerfile belongs to: the `org.openstack.loci.version` label. loci
# stops when its own version differs (a LOCI_IMAGE of another release).
ARG LOCI_VERSION=0.1.0
# The loci commit the build used (tools/build-keystone.sh passes `git rev-parse HEAD`).
ARG LOCI_REVISION=""
ARG FROM_DIGEST
ARG WHEELS_DIGEST
# created: an RFC 3339 time (the build scripts pass SOURCE_DATE_EPOCH's when it is set);
# revision: the commit built (default PROJECT_REF: give a commit, or IMAGE_REVISION).
ARG IMAGE_CREATED=""
ARG IMAGE_REVISION=""
ARG IMAGE_VERSION=""
ARG IMAGE_LICENSES="Apache-2.0"
ARG IMAGE_DESCRIPTION=""
ARG IMAGE_VENDOR=""
ARG IMAGE_AUTHORS=""
ARG IMAGE_URL=""
ARG IMAGE_DOCUMENTATION=""
LABEL org.opencontainers.image.title="${PROJECT}" \
      org.opencontainers.image.description="${IMAGE_DESCRIPTION:-OpenStack ${PROJECT} ${PROJECT_RELEASE}, built from source by loci}" \
      org.opencontainers.image.source="${PROJECT_REPO}" \
      org.opencontainers.image.revision="${IMAGE_REVISION:-${PROJECT_REF}}" \
      org.opencontainers.image.version="${IMAGE_VERSION:-${PROJECT_RELEASE}}" \
      org.opencontainers.image.created="${IMAGE_CREATED}" \
      org.opencontainers.image.licenses="${IMAGE_LICENSES}" \
      org.opencontainers.image.vendor="${IMAGE_VENDOR}" \
      org.opencontainers.image.authors="${IMAGE_AUTHORS}" \
      org.opencontainers.image.url="${IMAGE_URL}" \
      org.opencontainers.image.documentation="${IMAGE_DOCUMENTATION}" \
      org.opencontainers.image.base.name="${FROM}" \
      org.opencontainers.image.base.digest="${FROM_DIGEST}" \
      org.openstack.loci.version="${LOCI_VERSION}" \
      org.openstack.loci.revision="${LOCI_REVISION}" \
      org.openstack.loci.release="${PROJECT_RELEASE}" \
      org.openstack.loci.wheels="${WHEELS}" \
      org.openstack.loci.wheels.digest="${WHEELS_DIGEST}" \
      loci.version="${LOCI_VERSION}" \
      loci.wheels="${WHEELS}" \
      loci.wheels.digest="${WHEELS_DIGEST}"

# Every RUN below: /tmp gets its usual mode back (the data dir's own is 0755: apt's _apt user
# writes to /tmp). The registry credentials for WHEELS given as a URL or for loci's registry
# client can be a BuildKit secret: `--secret id=registry-auth,src=$HOME/.docker/config.json`.

# ---------------------------------------------------------------------------------------------
# LOCI master's `--target requirements`: the wheels of upper-constraints.txt, and nothing else
# (PROJECT defaults to requirements here).
FROM common AS requirements
ARG PROJECT=requirements
LABEL org.openstack.loci.wheels="" org.openstack.loci.wheels.digest="" loci.wheels="" loci.wheels.digest=""
RUN --mount=type=bind,source=data,target=/tmp,rw \
    --mount=type=bind,from=loci-files,target=/mnt,rw \
    --mount=type=cache,id=loci-system-${FROM}-${TARGETPLATFORM},target=${LOCI_CACHE_DIR}/system,sharing=private \
    --mount=type=cache,id=loci-python-${FROM}-${TARGETPLATFORM},target=${LOCI_CACHE_DIR}/python,sharing=shared \
    chmod 1777 /tmp && exec /mnt/loci build --stage requirements --loci-dir /mnt/opt/loci

# ---------------------------------------------------------------------------------------------
# Two-stage build, first stage: the venv, built with whatever it takes.
FROM common AS builder
RUN --mount=type=bind,source=data,target=/tmp,rw \
    --mount=type=bind,from=loci-files,target=/mnt,rw \
    --mount=type=cache,id=loci-system-${FROM}-${TARGETPLATFORM},target=${LOCI_CACHE_DIR}/system,sharing=private \
    --mount=type=cache,id=loci-python-${FROM}-${TARGETPLATFORM},target=${LOCI_CACHE_DIR}/python,sharing=shared \
    --mount=type=bind,from=wheels,target=${WHEELS_PATH} \
    --mount=type=secret,id=registry-auth \
    chmod 1777 /tmp && exec /mnt/loci build --stage builder --loci-dir /mnt/opt/loci

# Two-stage build, final stage (`--target runtime`): the base, the builder's venv and build facts,
# and what the service needs at run time.
FROM common AS runtime
COPY --link --from=builder /var/lib/openstack /var/lib/openstack
COPY --link --from=builder /etc/image_info /etc/image_info
RUN --mount=type=bind,source=data,target=/tmp,rw \
    --mount=type=bind,from=loci-files,target=/mnt,rw \
    --mount=type=cache,id=loci-system-${FROM}-${TARGETPLATFORM},target=${LOCI_CACHE_DIR}/system,sharing=private \
    chmod 1777 /tmp && exec /mnt/loci build --stage runtime --loci-dir /mnt/opt/loci

# ---------------------------------------------------------------------------------------------
# The service image in one stage, its wheels mounted from WHEELS (LOCI master's `project`).
FROM common AS project-one-stage
RUN --mount=type=bind,source=data,target=/tmp,rw \
    --mount=type=bind,from=loci-files,target=/mnt,rw \
    --mount=type=cache,id=loci-system-${FROM}-${TARGETPLATFORM},target=${LOCI_CACHE_DIR}/system,sharing=private \
    --mount=type=cache,id=loci-python-${FROM}-${TARGETPLATFORM},target=${LOCI_CACHE_DIR}/python,sharing=shared \
    --mount=type=bind,from=wheels,target=${WHEELS_PATH} \
    --mount=type=secret,id=registry-auth \
    chmod 1777 /tmp && exec /mnt/loci build --stage project --loci-dir /mnt/opt/loci

# ---------------------------------------------------------------------------------------------
# LOCI master's `--target project`, the default: one of the stages above, as PROJECT and WHEELS
# say (PROJECT_STAGE, at the top).
FROM ${PROJECT_STAGE:-requirements} AS project
