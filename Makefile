# ipfs-csi: every target that runs code calls `setup` first, which is idempotent and fast once done.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/bin:$(PATH)
export GOTOOLCHAIN := local

# sdk/: the OpenAPI document and the TypeScript types generated from it (commit the result).
.PHONY: setup setup-e2e build typecheck test sdk test-unit test-integration sanity demo bench bench-e2e e2e e2e-down e2e-upstream setup-e2e-upstream clean manifests validate-manifests monitoring

setup:
	@bash scripts/setup.sh

build: setup

typecheck: setup
	npx tsc -p tsconfig.json --noEmit

test-unit: setup
	npx ava --config ava.unit.config.js

test-integration: setup
	npx ava --config ava.integration.config.js

# csi-sanity runs inside the integration suite (test/integration/csi-sanity.test.ts);
# this target runs just that file.
sanity: setup
	npx ava --config ava.integration.config.js dist/test/integration/csi-sanity.test.js

sdk: setup
	node dist/scripts/gen-sdk.js

test: setup
	npx tsc -p tsconfig.json --noEmit
	node dist/scripts/gen-sdk.js --check
	npx ava --config ava.unit.config.js
	npx ava --config ava.integration.config.js

demo: setup
	node dist/scripts/demo.js

bench: setup
	node dist/scripts/bench.js

# deploy/: render every overlay to deploy/rendered/<overlay>.yaml (committed), then validate
# (schemas of the pinned Kubernetes version + CRDs, kube-score, pinned images). Offline after setup.
manifests: setup
	node dist/scripts/validate-manifests.js --write

validate-manifests: setup
	node dist/scripts/validate-manifests.js

# e2e: a real single-node Kubernetes (built from pinned sources by scripts/setup-e2e.sh: ~22 min
# with a cold Go cache, ~2 min with a warm one) running deploy/overlays/e2e in a network namespace
# of its own; JUnit in test-results/e2e.xml (docs/e2e.md). One run at a time.
setup-e2e: setup
	@bash scripts/setup-e2e.sh

e2e: setup-e2e
	flock /tmp/ipfs-csi-e2e.lock unshare --net -- sh scripts/e2e/netns.sh node dist/scripts/e2e/run.js

# e2e-upstream: the upstream Kubernetes storage e2e suite (`External Storage [Driver: ipfs.csi.dev]`,
# k8s.io/kubernetes v1.37.2 test/e2e) in the same cluster; JUnit in test-results/e2e-upstream.xml,
# skips checked against test/e2e-storage/skips.json (docs/e2e-upstream.md). Shares the e2e lock.
setup-e2e-upstream: setup
	@bash scripts/setup-e2e.sh upstream

e2e-upstream: setup-e2e-upstream
	flock /tmp/ipfs-csi-e2e.lock unshare --net -- sh scripts/e2e/netns.sh node dist/scripts/e2e/upstream.js

# bench-e2e: on the same cluster, pod Ready + full sha256 read of a 1 GiB model, our PVC against an
# init container running `ipfs get` into an emptyDir; both and the ratio in test-results/bench-e2e.txt.
bench-e2e: setup-e2e
	flock /tmp/ipfs-csi-e2e.lock unshare --net -- sh scripts/e2e/netns.sh node dist/scripts/e2e/bench.js

# Tears down a cluster left by `node dist/scripts/e2e/run.js --keep` (or a killed run).
e2e-down:
	flock /tmp/ipfs-csi-e2e.lock node dist/scripts/e2e/cluster.js stop

# deploy/components/monitoring/prometheusrule.yaml from deploy/monitoring/ipfs-csi.rules.yaml, then
# the checks `make test` runs (promtool check + test rules, runbooks, dashboard PromQL).
monitoring: setup
	node dist/scripts/monitoring.js --write

clean:
	rm -rf dist test-results
