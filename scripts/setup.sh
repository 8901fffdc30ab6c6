#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine, idempotently:
# Debian fuse packages, npm packages, pinned Go-built tools, csi.proto and the TypeScript build.
# A second run only checks stamps and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

KUBELET_API_MODULE=k8s.io/kubelet@v0.37.2   # pluginregistration/v1 api.proto (kubelet plugin registration)
CSI_SPEC_VERSION=v1.12.0      # csi.proto; the last spec with the VOLUME_CONDITION node capability
KUBO_VERSION=v0.43.0          # v0.43.1 pulls a go-libp2p fork the Go proxy refuses
IPFS_CLUSTER_VERSION=v1.1.0   # must match tools/ipfs-cluster/go.mod
CSI_SANITY_VERSION=v5.6.0
# deploy/ validation (scripts/validate-manifests.ts): manifest tools and schemas, all pinned.
KUSTOMIZE_VERSION=v5.8.1
KUBECONFORM_VERSION=v0.7.0
KUBE_SCORE_VERSION=v1.20.0      # kube-linter's module is not served by the Go proxy
K8S_SCHEMA_PKG=kubernetes-validate==1.37.0   # PyPI package shipping Kubernetes JSON schemas
K8S_SCHEMA_VERSION=v1.36.0      # the Kubernetes version the manifests are validated against
SNAPSHOTTER_CRD_MODULE=github.com/kubernetes-csi/external-snapshotter/client/v8@v8.7.0
PROM_OPERATOR_CRD_MODULE=github.com/prometheus-operator/prometheus-operator@v0.85.0

export GOTOOLCHAIN=local GOFLAGS=-mod=mod
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS/bin"

# shellcheck source=scripts/setup-lib.sh
source scripts/setup-lib.sh

# --- Debian packages: libfuse2 (fuse-native links it) and fuse (fusermount) ---
if ! ldconfig -p | grep -q 'libfuse\.so\.2' || ! command -v fusermount >/dev/null; then
  log "installing libfuse2 and fuse"
  retry 3 as_root apt-get update -qq
  retry 3 as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfuse2 fuse >/dev/null
fi
# --- Debian prometheus: promtool for the rule and dashboard checks, a real Prometheus for the
# monitoring integration test (which renders the dashboard with rsvg-convert from librsvg2-bin).
# Only the binaries are used: the service the package may start is stopped.
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null || ! command -v rsvg-convert >/dev/null; then
  log "installing prometheus (promtool) and librsvg2-bin"
  retry 3 as_root apt-get update -qq
  retry 3 as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus librsvg2-bin >/dev/null
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then as_root systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi
# --- Debian nginx and openssl: the public gateway's tests run the shipped nginx template ---
if ! command -v /usr/sbin/nginx >/dev/null || ! command -v openssl >/dev/null; then
  log "installing nginx and openssl"
  retry 3 as_root apt-get update -qq
  retry 3 as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx openssl >/dev/null
fi
# --- Debian redis-server: the API's shared rate limits (tests start their own on loopback ports) ---
if ! command -v redis-server >/dev/null; then
  log "installing redis-server"
  retry 3 as_root apt-get update -qq
  retry 3 as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
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

# --- Go-built tools, each cached under .tools/<name>-<version>-<key> (build_tool in setup-lib.sh) ---
# Kubo: a tool module (tools/kubo) because Kubo's go.mod has exclude directives that
# `go install module@version` refuses; its go.sum pins every dependency.
build_tool kubo "$KUBO_VERSION" "$(module_key tools/kubo)" \
  bash -c 'cd tools/kubo && go build -trimpath -o "$GOBIN/ipfs" github.com/ipfs/kubo/cmd/ipfs'

# IPFS Cluster (ipfs-cluster-service, ipfs-cluster-ctl) for the many-nodes tests: one tool module
# (tools/ipfs-cluster) so both binaries build from one go.sum. v1.1.0: newer ones are refused by the proxy.
build_tool ipfs-cluster "$IPFS_CLUSTER_VERSION" "$(module_key tools/ipfs-cluster)" \
  bash -c 'cd tools/ipfs-cluster && go build -trimpath -o "$GOBIN/" github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-service github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-ctl'

build_tool csi-sanity "$CSI_SANITY_VERSION" direct \
  go install -trimpath "github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@$CSI_SANITY_VERSION"

build_tool kustomize "$KUSTOMIZE_VERSION" direct \
  go install -trimpath "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
build_tool kubeconform "$KUBECONFORM_VERSION" direct \
  go install -trimpath "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
build_tool kube-score "$KUBE_SCORE_VERSION" direct \
  go install -trimpath "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"

# --- Kubernetes JSON schemas (strict, $ref-linked) and CRD YAML for offline validation ---
schema_key=$(printf '%s %s %s %s' "$K8S_SCHEMA_PKG" "$K8S_SCHEMA_VERSION" "$SNAPSHOTTER_CRD_MODULE" "$PROM_OPERATOR_CRD_MODULE" | sha256sum | cut -c1-12)
SCHEMAS="$TOOLS/k8s-schemas"
if [ "$(cat "$SCHEMAS/.done" 2>/dev/null)" != "$schema_key" ]; then
  log "fetching Kubernetes $K8S_SCHEMA_VERSION schemas and CRDs (first run only)"
  rm -rf "$SCHEMAS"; mkdir -p "$SCHEMAS/crds"
  wheel_dir=$(mktemp -d)
  retry 3 python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$wheel_dir" "$K8S_SCHEMA_PKG"
  python3 - "$wheel_dir" "$SCHEMAS" "$K8S_SCHEMA_VERSION-local-strict" <<'PY'
import sys, zipfile, glob, os, json
wheel = glob.glob(os.path.join(sys.argv[1], '*.whl'))[0]
prefix = 'kubernetes_validate/kubernetes-json-schema/' + sys.argv[3] + '/'
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and n.endswith('.json')]
    if not names: sys.exit('no schemas under ' + prefix)
    out = os.path.join(sys.argv[2], sys.argv[3]); os.makedirs(out, exist_ok=True)
    # Each schema has an https $id and refs into one big /api/_definitions.json: make every schema
    # standalone (only the definitions it reaches, under its own $defs) so the validator resolves
    # refs offline and compiles small schemas quickly.
    defs = json.loads(z.read(prefix + '_definitions.json'))['$defs']
    ref_prefix = '/api/_definitions.json#/$defs/'
    def refs(node, out):
        if isinstance(node, dict):
            r = node.get('$ref')
            if isinstance(r, str) and (r.startswith(ref_prefix) or r.startswith('#/$defs/')):
                name = r.split('#/$defs/', 1)[1]
                if name not in out:
                    out.add(name); refs(defs[name], out)
            for v in node.values(): refs(v, out)
        elif isinstance(node, list):
            for v in node: refs(v, out)
    for n in names:
        base = os.path.basename(n)
        if base == '_definitions.json': continue
        doc = json.loads(z.read(n))
        doc.pop('$id', None)
        needed = set(); refs(doc, needed)
        doc['$defs'] = {k: defs[k] for k in sorted(needed)}
        text = json.dumps(doc).replace('"' + ref_prefix, '"#/$defs/')
        with open(os.path.join(out, base), 'w', encoding='utf-8') as f: f.write(text)
PY
  rm -rf "$wheel_dir"
  snap_dir=$(retry 3 go mod download -json "$SNAPSHOTTER_CRD_MODULE" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  prom_dir=$(retry 3 go mod download -json "$PROM_OPERATOR_CRD_MODULE" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  cp "$snap_dir"/config/crd/snapshot.storage.k8s.io_volumesnapshot*.yaml "$SCHEMAS/crds/"
  cp "$prom_dir"/example/prometheus-operator-crd/monitoring.coreos.com_{servicemonitors,podmonitors,prometheusrules}.yaml "$SCHEMAS/crds/"
  chmod -R u+w "$SCHEMAS"
  echo "$schema_key" > "$SCHEMAS/.done"
fi

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

# --- kubelet's plugin-registration api.proto (the driver registers itself with kubelet) ---
if [ "$(cat proto/.kubelet-api-module 2>/dev/null)" != "$KUBELET_API_MODULE" ] || [ ! -f proto/pluginregistration.proto ]; then
  log "fetching pluginregistration api.proto from $KUBELET_API_MODULE"
  kubelet_dir=$(retry 3 go mod download -json "$KUBELET_API_MODULE" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  cp "$kubelet_dir/pkg/apis/pluginregistration/v1/api.proto" proto/pluginregistration.proto
  chmod 644 proto/pluginregistration.proto
  echo "$KUBELET_API_MODULE" > proto/.kubelet-api-module
fi

# --- TypeScript build ---
log "tsc"
npx tsc -p tsconfig.json
chmod +x dist/driver/cli.js 2>/dev/null || true
log "ready: $(ls "$TOOLS/bin" | tr '\n' ' ')"
