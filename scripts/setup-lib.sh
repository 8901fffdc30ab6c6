# Shared by scripts/setup.sh and scripts/setup-e2e.sh (sourced, not run): logging, retries and the
# Go-built tool cache under .tools/<name>-<version>-<key>.
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

# module_key DIR: the cache key of a tool module (its go.mod and go.sum).
module_key() { cat "$1/go.mod" "$1/go.sum" | sha256sum | cut -c1-12; }
