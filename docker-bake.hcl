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

# Every service: the base image and the wheels as targets of the same run.
target "cinder" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/cinder:${LOCI_GATE_TAG}"]
}
target "designate" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/designate:${LOCI_GATE_TAG}"]
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
target "manila" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/manila:${LOCI_GATE_TAG}"]
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
target "placement" {
  contexts = { wheels = "target:requirements", "loci-gate/base:debian" = "target:base" }
  tags     = ["${LOCI_REGISTRY}loci-gate/placement:${LOCI_GATE_TAG}"]
}
