# `docker buildx bake` over compose.yaml, with the dependencies resolved by bake itself: every
# service takes the base and the wheels from the targets `base` and `requirements` of the same
# run (bake builds those first, once), instead of images that must exist beforehand.
#
#   docker buildx bake -f compose.yaml -f docker-bake.hcl              # every image
#   docker buildx bake -f compose.yaml -f docker-bake.hcl keystone nova
#   LOCI_REGISTRY=registry.example/ docker buildx bake -f compose.yaml -f docker-bake.hcl --push
#
# Bake 0.13 has no `network` key: the builder's RUN steps need network of their own (any
# builder but a `docker` driver on a daemon started with --bridge=none). tools/gate.sh uses
# `docker compose build` instead, which passes `network: host`.

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
  inherits = ["_platforms"]
  tags = ["${LOCI_REGISTRY}loci-gate/base:debian"]
}

target "requirements" {
  inherits = ["_platforms"]
  contexts = {
    "loci-gate/base:debian" = "target:base"
  }
  tags = ["${LOCI_REGISTRY}loci-gate/requirements:${LOCI_GATE_TAG}"]
}

# Every service (LOCI master's 30 images): the base image and the wheels as targets of the same
# run.
target "barbican" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/barbican:${LOCI_GATE_TAG}"]
}
target "blazar" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/blazar:${LOCI_GATE_TAG}"]
}
target "ceilometer" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/ceilometer:${LOCI_GATE_TAG}"]
}
target "cinder" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/cinder:${LOCI_GATE_TAG}"]
}
target "cloudkitty" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/cloudkitty:${LOCI_GATE_TAG}"]
}
target "cyborg" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/cyborg:${LOCI_GATE_TAG}"]
}
target "designate" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/designate:${LOCI_GATE_TAG}"]
}
target "freezer" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/freezer:${LOCI_GATE_TAG}"]
}
target "freezer-api" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/freezer-api:${LOCI_GATE_TAG}"]
}
target "glance" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/glance:${LOCI_GATE_TAG}"]
}
target "heat" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/heat:${LOCI_GATE_TAG}"]
}
target "horizon" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/horizon:${LOCI_GATE_TAG}"]
}
target "ironic" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/ironic:${LOCI_GATE_TAG}"]
}
target "keystone" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/keystone:${LOCI_GATE_TAG}"]
}
target "magnum" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/magnum:${LOCI_GATE_TAG}"]
}
target "manila" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/manila:${LOCI_GATE_TAG}"]
}
target "masakari" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/masakari:${LOCI_GATE_TAG}"]
}
target "masakari-monitors" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/masakari-monitors:${LOCI_GATE_TAG}"]
}
target "mistral" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/mistral:${LOCI_GATE_TAG}"]
}
target "neutron" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/neutron:${LOCI_GATE_TAG}"]
}
target "nova" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/nova:${LOCI_GATE_TAG}"]
}
target "octavia" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/octavia:${LOCI_GATE_TAG}"]
}
target "openstack-client" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/openstack-client:${LOCI_GATE_TAG}"]
}
target "placement" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/placement:${LOCI_GATE_TAG}"]
}
target "skyline" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/skyline:${LOCI_GATE_TAG}"]
}
target "swift" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/swift:${LOCI_GATE_TAG}"]
}
target "tacker" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/tacker:${LOCI_GATE_TAG}"]
}
target "trove" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/trove:${LOCI_GATE_TAG}"]
}
target "watcher" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/watcher:${LOCI_GATE_TAG}"]
}
target "zaqar" {
  inherits = ["_platforms"]
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/zaqar:${LOCI_GATE_TAG}"]
}
