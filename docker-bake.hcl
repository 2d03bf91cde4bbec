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

target "base" {
  tags = ["${LOCI_REGISTRY}loci-gate/base:debian"]
}

target "requirements" {
  contexts = {
    "loci-gate/base:debian" = "target:base"
  }
  tags = ["${LOCI_REGISTRY}loci-gate/requirements:${LOCI_GATE_TAG}"]
}

# Every service (LOCI master's 30 images): the base image and the wheels as targets of the same
# run.
target "barbican" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/barbican:${LOCI_GATE_TAG}"]
}
target "blazar" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/blazar:${LOCI_GATE_TAG}"]
}
target "ceilometer" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/ceilometer:${LOCI_GATE_TAG}"]
}
target "cinder" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/cinder:${LOCI_GATE_TAG}"]
}
target "cloudkitty" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/cloudkitty:${LOCI_GATE_TAG}"]
}
target "cyborg" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/cyborg:${LOCI_GATE_TAG}"]
}
target "designate" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/designate:${LOCI_GATE_TAG}"]
}
target "freezer" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/freezer:${LOCI_GATE_TAG}"]
}
target "freezer-api" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/freezer-api:${LOCI_GATE_TAG}"]
}
target "glance" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/glance:${LOCI_GATE_TAG}"]
}
target "heat" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/heat:${LOCI_GATE_TAG}"]
}
target "horizon" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/horizon:${LOCI_GATE_TAG}"]
}
target "ironic" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/ironic:${LOCI_GATE_TAG}"]
}
target "keystone" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/keystone:${LOCI_GATE_TAG}"]
}
target "magnum" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/magnum:${LOCI_GATE_TAG}"]
}
target "manila" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/manila:${LOCI_GATE_TAG}"]
}
target "masakari" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/masakari:${LOCI_GATE_TAG}"]
}
target "masakari-monitors" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/masakari-monitors:${LOCI_GATE_TAG}"]
}
target "mistral" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/mistral:${LOCI_GATE_TAG}"]
}
target "neutron" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/neutron:${LOCI_GATE_TAG}"]
}
target "nova" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/nova:${LOCI_GATE_TAG}"]
}
target "octavia" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/octavia:${LOCI_GATE_TAG}"]
}
target "openstack-client" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/openstack-client:${LOCI_GATE_TAG}"]
}
target "placement" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/placement:${LOCI_GATE_TAG}"]
}
target "skyline" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/skyline:${LOCI_GATE_TAG}"]
}
target "swift" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/swift:${LOCI_GATE_TAG}"]
}
target "tacker" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/tacker:${LOCI_GATE_TAG}"]
}
target "trove" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/trove:${LOCI_GATE_TAG}"]
}
target "watcher" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/watcher:${LOCI_GATE_TAG}"]
}
target "zaqar" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/zaqar:${LOCI_GATE_TAG}"]
}
