# `docker buildx bake` over compose.yaml, with the dependencies resolved by bake itself: every
# service takes the base and the wheels from the targets `base` and `requirements` of the same
# run (bake builds those first, once), or from images pinned by digest (LOCI_WHEELS_IMAGE,
# LOCI_BASE_IMAGE). The services are one list (SERVICES) and one matrix target; groups
# `default` and `services` are all of them.
#
#   docker buildx bake -f compose.yaml -f docker-bake.hcl              # every image
#   docker buildx bake -f compose.yaml -f docker-bake.hcl keystone nova
#   SERVICES=keystone,nova docker buildx bake -f compose.yaml -f docker-bake.hcl services
#   LOCI_REGISTRY=registry.example/ LOCI_CACHE=registry.example/loci-gate/cache \
#       docker buildx bake -f compose.yaml -f docker-bake.hcl --push
#
# Network: compose.yaml's `network: host` is for a local daemon without a bridge (this
# project's machines); bake 0.13 has no `network` key of its own, so a bake build needs a
# builder whose RUN steps have network (a `docker-container`, `remote` or `kubernetes` builder,
# or a daemon with its bridge). tools/gate.sh uses `docker compose build`, which passes
# `network: host`. README "The gate across machines" has a Kubernetes builder spreading the
# set over its replicas.

variable "LOCI_GATE_TAG" {
  default = "2026.1"
}

# A registry prefix for every tag, e.g. "registry.example/" (with --push).
variable "LOCI_REGISTRY" {
  default = ""
}

# The platforms of every image, comma-separated (empty: the builder's own): one multi-platform
# image (a manifest list) each, e.g. "linux/amd64,linux/arm64" (LOCI's buildx role and
# openstack-helm-images build both). On the `docker` driver it needs the containerd image store
# (tools/setup-host.sh) and, for the other architecture, qemu's binfmt_misc handlers; the loci
# binary is cross-compiled on the build platform (the Dockerfile's `loci-compile` stage).
#
#   LOCI_PLATFORMS=linux/amd64,linux/arm64 LOCI_REGISTRY=127.0.0.1:5000/ \
#       docker buildx bake -f compose.yaml -f docker-bake.hcl --push keystone
variable "LOCI_PLATFORMS" {
  default = ""
}

# Inherited by every target below.
target "_platforms" {
  platforms = LOCI_PLATFORMS == "" ? [] : split(",", LOCI_PLATFORMS)
}

target "base" {
  inherits   = ["_platforms"]
  tags       = ["${LOCI_REGISTRY}loci-gate/base:debian"]
  cache-from = cache_from("base")
  cache-to   = cache_to("base")
}

target "requirements" {
  inherits = ["_platforms"]
  contexts = {
    "loci-gate/base:debian" = "target:base"
  }
  tags       = ["${LOCI_REGISTRY}loci-gate/requirements:${LOCI_GATE_TAG}"]
  cache-from = cache_from("requirements")
  cache-to   = cache_to("requirements")
}

# The services: LOCI master's 30 images, compose.yaml's services, tools/gate.sh's list (one
# list: tests/gate.rs holds the three together). Override it to build a slice:
#   SERVICES=keystone,nova docker buildx bake -f compose.yaml -f docker-bake.hcl services
variable "SERVICES" {
  default = "barbican,blazar,ceilometer,cinder,cloudkitty,cyborg,designate,freezer,freezer-api,glance,heat,horizon,ironic,keystone,magnum,manila,masakari,masakari-monitors,mistral,neutron,nova,octavia,openstack-client,placement,skyline,swift,tacker,trove,watcher,zaqar"
}

# The registry cache of every image (BuildKit's, mode=max), e.g. "registry.example/loci-gate/cache"
# (one tag per image and platform set): a fresh builder, a new CI runner or another replica
# rebuilds an unchanged image from it. Empty: none.
variable "LOCI_CACHE" {
  default = ""
}

# The inputs pinned by digest, e.g. from `tools/gate.sh inputs` (its summary.json's `inputs`):
# "registry.example/loci-gate/requirements@sha256:..." and ".../base@sha256:...". Empty: built
# by this run (targets `requirements` and `base`).
variable "LOCI_WHEELS_IMAGE" {
  default = ""
}
variable "LOCI_BASE_IMAGE" {
  default = ""
}

function "cache_from" {
  params = [name]
  result = LOCI_CACHE == "" ? [] : ["type=registry,ref=${LOCI_CACHE}:${name}-${LOCI_GATE_TAG}"]
}
function "cache_to" {
  params = [name]
  result = LOCI_CACHE == "" ? [] : ["type=registry,ref=${LOCI_CACHE}:${name}-${LOCI_GATE_TAG},mode=max"]
}

group "default" {
  targets = ["services"]
}

group "services" {
  targets = split(",", SERVICES)
}

# Every service, from the one list: the base image and the wheels as targets of the same run,
# or the pinned inputs.
target "service" {
  name       = svc
  matrix     = { svc = split(",", SERVICES) }
  inherits   = ["_platforms"]
  contexts   = {
    wheels                  = LOCI_WHEELS_IMAGE == "" ? "target:requirements" : "docker-image://${LOCI_WHEELS_IMAGE}"
    "loci-gate/base:debian" = LOCI_BASE_IMAGE == "" ? "target:base" : "docker-image://${LOCI_BASE_IMAGE}"
  }
  tags       = ["${LOCI_REGISTRY}loci-gate/${svc}:${LOCI_GATE_TAG}"]
  cache-from = cache_from(svc)
  cache-to   = cache_to(svc)
}
