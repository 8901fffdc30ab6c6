#!/usr/bin/env bash
# Installs what `make e2e` / `make bench-e2e` need on top of scripts/setup.sh, idempotently: containerd
# and runc (Debian), and the pinned Go-built Kubernetes parts, each cached by version under .tools/.
# Kept out of `make setup`: a cold build of Kubernetes takes ~7 minutes of 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/setup-lib.sh
source scripts/setup-lib.sh

K8S_VERSION=v1.37.2             # must match tools/kubernetes/go.mod
ETCD_VERSION=v3.7.3             # must match tools/etcd/go.mod
PROVISIONER_VERSION=v6.4.0      # must match tools/csi-provisioner/go.mod
SNAPSHOTTER_VERSION=v8.7.0      # must match tools/csi-snapshotter/go.mod

export GOTOOLCHAIN=local GOFLAGS=-mod=mod
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS/bin"

# --- Debian: containerd + runc (run by scripts/e2e/cluster.ts with its own root and socket), CNI
# plugins (bridge, host-local), and what the local images are made of (busybox-static, tini, nc, nginx, wget, redis) ---
if ! command -v containerd >/dev/null || ! command -v runc >/dev/null || ! command -v ctr >/dev/null || [ ! -x /usr/lib/cni/bridge ] || [ ! -x /bin/busybox ] || [ ! -x /usr/bin/tini ] || [ ! -x /bin/nc.openbsd ] || [ ! -x /usr/sbin/nginx ] || [ ! -x /usr/bin/wget ] || [ ! -x /usr/bin/redis-server ]; then
  log "installing containerd, runc, CNI plugins, busybox-static, tini, netcat-openbsd, nginx-light, wget, redis-server"
  retry 3 as_root apt-get update -qq
  retry 3 as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd runc containernetworking-plugins busybox-static tini netcat-openbsd nginx-light wget redis-server >/dev/null
fi

# --- Kubernetes: control plane, kubelet, kubectl (host processes) ---
k8s_ldflags="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 \
-X k8s.io/component-base/version.gitMinor=37 -X k8s.io/component-base/version.gitTreeState=clean \
-X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
build_tool kubernetes "$K8S_VERSION" "$(module_key tools/kubernetes)" \
  bash -c 'cd tools/kubernetes && nice -n 10 go build -trimpath -ldflags "$0" -o "$GOBIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl' "$k8s_ldflags"

build_tool etcd "$ETCD_VERSION" "$(module_key tools/etcd)" \
  bash -c 'cd tools/etcd && nice -n 10 go build -trimpath -o "$GOBIN/etcd" go.etcd.io/etcd/server/v3'

# --- CSI sidecars: static binaries, packed into local images by scripts/e2e-images.ts ---
build_tool csi-provisioner "$PROVISIONER_VERSION" "$(module_key tools/csi-provisioner)" \
  bash -c 'cd tools/csi-provisioner && CGO_ENABLED=0 nice -n 10 go build -trimpath -o "$GOBIN/" \
    github.com/kubernetes-csi/external-provisioner/v6/cmd/csi-provisioner'
build_tool csi-snapshotter "$SNAPSHOTTER_VERSION" "$(module_key tools/csi-snapshotter)" \
  bash -c 'cd tools/csi-snapshotter && CGO_ENABLED=0 nice -n 10 go build -trimpath -o "$GOBIN/" \
    github.com/kubernetes-csi/external-snapshotter/v8/cmd/csi-snapshotter \
    github.com/kubernetes-csi/external-snapshotter/v8/cmd/snapshot-controller'

# --- `make e2e-upstream` only (`setup-e2e.sh upstream`): the upstream storage e2e suite, from the
# same tool module: e2e.test (k8s.io/kubernetes/test/e2e), the ginkgo CLI that runs it in parallel
# (the version k8s.io/kubernetes requires), and agnhost for the suite's test image ---
if [ "${1:-}" = upstream ]; then
  build_tool kubernetes-e2e "$K8S_VERSION" "$(module_key tools/kubernetes)" \
    bash -c 'cd tools/kubernetes && nice -n 10 go test -c -vet=off -trimpath -ldflags "$0" -o "$GOBIN/e2e.test" k8s.io/kubernetes/test/e2e \
      && CGO_ENABLED=0 nice -n 10 go build -trimpath -o "$GOBIN/" github.com/onsi/ginkgo/v2/ginkgo k8s.io/kubernetes/test/images/agnhost' "$k8s_ldflags"
fi

log "e2e tools ready"
