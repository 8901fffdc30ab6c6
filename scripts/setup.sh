#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine, idempotently:
# Debian fuse packages, npm packages, pinned Go-built tools, csi.proto and the TypeScript build.
# A second run only checks stamps and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CSI_SPEC_VERSION=v1.12.0      # csi.proto; the last spec with the VOLUME_CONDITION node capability
KUBO_VERSION=v0.43.0          # v0.43.1 pulls a go-libp2p fork the Go proxy refuses
IPFS_CLUSTER_VERSION=v1.1.0   # must match tools/ipfs-cluster/go.mod
CSI_SANITY_VERSION=v5.6.0

export GOTOOLCHAIN=local GOFLAGS=-mod=mod
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS/bin"

log() { printf '[setup] %s\n' "$*" >&2; }

retry() { # retry N cmd...: registries on a shared network fail now and then
  local n=$1; shift; local i
  for ((i = 1; i <= n; i++)); do
    "$@" && return 0
    log "attempt $i/$n failed: $*"; sleep $((i * 5))
  done
  return 1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages: libfuse2 (fuse-native links it) and fuse (fusermount) ---
if ! ldconfig -p | grep -q 'libfuse\.so\.2' || ! command -v fusermount >/dev/null; then
  log "installing libfuse2 and fuse"
  retry 3 as_root apt-get update -qq
  retry 3 as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfuse2 fuse >/dev/null
fi
if [ ! -e /dev/fuse ]; then
  as_root mknod -m 666 /dev/fuse c 10 229 || log "warning: /dev/fuse is missing and could not be created"
fi

# --- npm packages, re-installed only when package-lock.json changes ---
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [ "$(cat node_modules/.setup-stamp 2>/dev/null)" != "$lock_hash" ]; then
  log "npm ci"
  retry 3 npm ci --no-audit --no-fund
  echo "$lock_hash" > node_modules/.setup-stamp
fi

# --- Go-built tools, each cached under .tools/<name>-<version>-<key> ---
# build_tool NAME VERSION KEY BUILD-COMMAND...: runs BUILD-COMMAND with GOBIN set to the cache dir.
build_tool() {
  local name=$1 version=$2 key=$3; shift 3
  local dir="$TOOLS/$name-$version-$key"
  if [ ! -f "$dir/.done" ]; then
    log "building $name $version (first run only)"
    rm -rf "$dir"; mkdir -p "$dir"
    GOBIN="$dir" retry 3 "$@"
    touch "$dir/.done"
  fi
  local f; for f in "$dir"/*; do ln -sfn "$f" "$TOOLS/bin/$(basename "$f")"; done
}

# Kubo: a tool module (tools/kubo) because Kubo's go.mod has exclude directives that
# `go install module@version` refuses; its go.sum pins every dependency.
kubo_key=$(cat tools/kubo/go.mod tools/kubo/go.sum | sha256sum | cut -c1-12)
build_tool kubo "$KUBO_VERSION" "$kubo_key" \
  bash -c 'cd tools/kubo && go build -trimpath -o "$GOBIN/ipfs" github.com/ipfs/kubo/cmd/ipfs'

# IPFS Cluster (ipfs-cluster-service, ipfs-cluster-ctl) for the many-nodes tests: one tool module
# (tools/ipfs-cluster) so both binaries build from one go.sum. v1.1.0: newer ones are refused by the proxy.
cluster_key=$(cat tools/ipfs-cluster/go.mod tools/ipfs-cluster/go.sum | sha256sum | cut -c1-12)
build_tool ipfs-cluster "$IPFS_CLUSTER_VERSION" "$cluster_key" \
  bash -c 'cd tools/ipfs-cluster && go build -trimpath -o "$GOBIN/" github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-service github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-ctl'

build_tool csi-sanity "$CSI_SANITY_VERSION" direct \
  go install -trimpath "github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@$CSI_SANITY_VERSION"

# --- csi.proto from the spec's Go module, never committed ---
if [ "$(cat proto/.spec-version 2>/dev/null)" != "$CSI_SPEC_VERSION" ] || [ ! -f proto/gen/csi.ts ]; then
  log "fetching csi.proto $CSI_SPEC_VERSION"
  spec_dir=$(retry 3 go mod download -json "github.com/container-storage-interface/spec@$CSI_SPEC_VERSION" \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')
  cp "$spec_dir/csi.proto" proto/csi.proto
  chmod 644 proto/csi.proto
  rm -rf proto/gen
  npx proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs \
    --grpcLib=@grpc/grpc-js --importFileExtension=.js --outDir=proto/gen proto/csi.proto >/dev/null
  echo "$CSI_SPEC_VERSION" > proto/.spec-version
fi

# --- TypeScript build ---
log "tsc"
npx tsc -p tsconfig.json
chmod +x dist/driver/cli.js 2>/dev/null || true
log "ready: $(ls "$TOOLS/bin" | tr '\n' ' ')"
