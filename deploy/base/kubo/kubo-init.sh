#!/bin/sh
# Configures a Kubo repo for ipfs-csi before the daemon starts (an init container runs it on every
# pod start, so a changed ConfigMap or Secret applies on the next restart). POSIX sh: the Kubo
# image has busybox, no jq. Every value comes from the environment or a mounted file:
#   IPFS_PATH              repo (created with `ipfs init` when it has no config yet)
#   KUBO_SWARM_KEY_FILE    private network key (required unless KUBO_OFFLINE=true: the network is
#                          always private)
#   KUBO_SWARM_KEY_LINK    true: the repo's swarm.key is a symlink to KUBO_SWARM_KEY_FILE (the daemon
#                          container mounts the Secret at the same path), so the key never lands on a
#                          node's disk (node-local repos are hostPaths); false (default): a 0600 copy
#   KUBO_OFFLINE           true: the daemon runs --offline (gateway tier): no swarm key, no peering
#   KUBO_TOKENS_DIR        one file per API client, file name = client name, content = bearer token;
#                          becomes API.Authorizations (at least one token is required)
#   KUBO_ALLOWED_PATHS_FILE  "client: cmd cmd ..." lines: the only RPC commands each client's token
#                          may call (Kubo matches /api/v0/<cmd> by prefix). A token whose client has
#                          no line is refused: nothing gets the whole API by default.
#   KUBO_IDENTITY_DIR      optional: <name>.privkey and <name>.peerid for a stable identity, where
#                          name is KUBO_IDENTITY_NAME (default: the hostname, e.g. ipfs-kubo-1)
#   KUBO_PEERS_FILE        optional: one /dns4/.../tcp/4001/p2p/<id> per line → Peering.Peers
#   KUBO_API_ADDR, KUBO_GATEWAY_ADDR  listen multiaddrs (space-separated for several), default
#                          loopback: a pod IP is only added on purpose, behind a NetworkPolicy
#   KUBO_SWARM_ADDR        swarm listen multiaddr
#   KUBO_ROUTING_TYPE (none), KUBO_BOOTSTRAP (JSON array, []), KUBO_GATEWAY_NO_FETCH (true),
#   KUBO_GATEWAY_PUBLIC_HOSTNAME   a subdomain gateway host (<cid>.ipfs.HOST): every CID its own origin
#   KUBO_GATEWAY_MAX_CONCURRENT (256), KUBO_GATEWAY_RETRIEVAL_TIMEOUT (30s),
#   KUBO_GATEWAY_MAX_REQUEST_DURATION (1h), KUBO_GATEWAY_MAX_RANGE_FILE_SIZE (0 = no cap),
#   KUBO_GATEWAY_HEADERS (JSON object), KUBO_STORAGE_MAX (10GB), KUBO_GC_WATERMARK (90),
#   KUBO_GC_PERIOD (1h), KUBO_RM_MAX_MEMORY (1GB), KUBO_CONNMGR_LOW (50), KUBO_CONNMGR_HIGH (200)
set -eu
# No pathname expansion: lists here (addresses, commands) are split on spaces, and a "*" in one
# must stay a "*" (and be refused), never become the names of files.
set -f

die() { echo "kubo-init: $*" >&2; exit 1; }
cfg() { ipfs config --json "$1" "$2" >/dev/null || die "cannot set $1"; }
# JSON string from a value we checked against a safe alphabet (no quotes or backslashes).
jstr() { printf '"%s"' "$1"; }

: "${IPFS_PATH:?IPFS_PATH is required}"
: "${KUBO_TOKENS_DIR:?KUBO_TOKENS_DIR is required (API.Authorizations)}"
: "${KUBO_ALLOWED_PATHS_FILE:?KUBO_ALLOWED_PATHS_FILE is required (each token's AllowedPaths)}"
OFFLINE=${KUBO_OFFLINE:-false}
SWARM_KEY_LINK=${KUBO_SWARM_KEY_LINK:-false}
case "$OFFLINE" in true|false) ;; *) die "KUBO_OFFLINE must be true or false" ;; esac
case "$SWARM_KEY_LINK" in true|false) ;; *) die "KUBO_SWARM_KEY_LINK must be true or false" ;; esac
[ "$OFFLINE" = true ] || : "${KUBO_SWARM_KEY_FILE:?KUBO_SWARM_KEY_FILE is required (private network)}"
API_ADDR=${KUBO_API_ADDR:-/ip4/127.0.0.1/tcp/5001}
GATEWAY_ADDR=${KUBO_GATEWAY_ADDR:-/ip4/127.0.0.1/tcp/8080}
SWARM_ADDR=${KUBO_SWARM_ADDR:-/ip4/0.0.0.0/tcp/4001}
ROUTING_TYPE=${KUBO_ROUTING_TYPE:-none}
BOOTSTRAP=${KUBO_BOOTSTRAP:-[]}
NO_FETCH=${KUBO_GATEWAY_NO_FETCH:-true}
PUBLIC_HOSTNAME=${KUBO_GATEWAY_PUBLIC_HOSTNAME:-}
MAX_CONCURRENT=${KUBO_GATEWAY_MAX_CONCURRENT:-256}
RETRIEVAL_TIMEOUT=${KUBO_GATEWAY_RETRIEVAL_TIMEOUT:-30s}
MAX_REQUEST_DURATION=${KUBO_GATEWAY_MAX_REQUEST_DURATION:-1h}
MAX_RANGE_FILE_SIZE=${KUBO_GATEWAY_MAX_RANGE_FILE_SIZE:-0}
GATEWAY_HEADERS=${KUBO_GATEWAY_HEADERS:-'{}'}
STORAGE_MAX=${KUBO_STORAGE_MAX:-10GB}
GC_WATERMARK=${KUBO_GC_WATERMARK:-90}
GC_PERIOD=${KUBO_GC_PERIOD:-1h}
RM_MAX_MEMORY=${KUBO_RM_MAX_MEMORY:-1GB}
CONNMGR_LOW=${KUBO_CONNMGR_LOW:-50}
CONNMGR_HIGH=${KUBO_CONNMGR_HIGH:-200}

for v in $API_ADDR $GATEWAY_ADDR "$SWARM_ADDR"; do
  printf '%s' "$v" | grep -Eq '^(/[A-Za-z0-9.:_-]+)+$' || die "bad multiaddr: $v"
done
[ -n "$API_ADDR" ] && [ -n "$GATEWAY_ADDR" ] || die "KUBO_API_ADDR and KUBO_GATEWAY_ADDR must not be empty"
[ -z "$PUBLIC_HOSTNAME" ] || printf '%s' "$PUBLIC_HOSTNAME" | grep -Eq '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$' || die "bad KUBO_GATEWAY_PUBLIC_HOSTNAME: $PUBLIC_HOSTNAME"
printf '%s' "$RETRIEVAL_TIMEOUT" | grep -Eq '^[0-9]+(ms|s|m)$' || die "bad KUBO_GATEWAY_RETRIEVAL_TIMEOUT: $RETRIEVAL_TIMEOUT"
printf '%s' "$MAX_REQUEST_DURATION" | grep -Eq '^[0-9]+(s|m|h)$' || die "bad KUBO_GATEWAY_MAX_REQUEST_DURATION: $MAX_REQUEST_DURATION"
printf '%s' "$MAX_RANGE_FILE_SIZE" | grep -Eq '^([0-9]+(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)|0)$' || die "bad KUBO_GATEWAY_MAX_RANGE_FILE_SIZE: $MAX_RANGE_FILE_SIZE"
[ -f "$KUBO_ALLOWED_PATHS_FILE" ] || die "allowed-paths file $KUBO_ALLOWED_PATHS_FILE is missing"
printf '%s' "$ROUTING_TYPE" | grep -Eq '^(none|dht|dhtclient|dhtserver|auto|autoclient)$' || die "bad KUBO_ROUTING_TYPE: $ROUTING_TYPE"
case "$NO_FETCH" in true|false) ;; *) die "KUBO_GATEWAY_NO_FETCH must be true or false" ;; esac
printf '%s' "$STORAGE_MAX" | grep -Eq '^[0-9]+(B|KB|MB|GB|TB)$' || die "bad KUBO_STORAGE_MAX: $STORAGE_MAX"
printf '%s' "$RM_MAX_MEMORY" | grep -Eq '^[0-9]+(B|KB|MB|GB|TB|KiB|MiB|GiB)$' || die "bad KUBO_RM_MAX_MEMORY: $RM_MAX_MEMORY"
printf '%s' "$GC_PERIOD" | grep -Eq '^[0-9]+(s|m|h)$' || die "bad KUBO_GC_PERIOD: $GC_PERIOD"
for n in "$GC_WATERMARK" "$CONNMGR_LOW" "$CONNMGR_HIGH" "$MAX_CONCURRENT"; do
  printf '%s' "$n" | grep -Eq '^[0-9]{1,6}$' || die "bad number: $n"
done
if [ "$OFFLINE" = false ]; then
  [ -s "$KUBO_SWARM_KEY_FILE" ] || die "swarm key $KUBO_SWARM_KEY_FILE is missing or empty"
  head -n 1 "$KUBO_SWARM_KEY_FILE" | grep -q '^/key/swarm/psk/1.0.0/$' || die "swarm key is not a /key/swarm/psk/1.0.0/ file"
fi

if [ ! -f "$IPFS_PATH/config" ]; then
  mkdir -p "$IPFS_PATH"
  # --empty-repo: no welcome files; the identity may be replaced below.
  ipfs init --empty-repo -a ed25519 >/dev/null || die "ipfs init failed"
fi

# Stable identity from a Secret, so peers can list each other in Peering.Peers.
if [ -n "${KUBO_IDENTITY_DIR:-}" ]; then
  name=${KUBO_IDENTITY_NAME:-$(hostname)}
  key_file="$KUBO_IDENTITY_DIR/$name.privkey"
  id_file="$KUBO_IDENTITY_DIR/$name.peerid"
  [ -s "$key_file" ] && [ -s "$id_file" ] || die "identity for $name missing in $KUBO_IDENTITY_DIR"
  peer_id=$(tr -d ' \n\r' < "$id_file")
  priv=$(tr -d ' \n\r' < "$key_file")
  printf '%s' "$peer_id" | grep -Eq '^[1-9A-HJ-NP-Za-km-z]{46,60}$' || die "bad peer id for $name"
  printf '%s' "$priv" | grep -Eq '^[A-Za-z0-9+/=]{40,200}$' || die "bad private key for $name"
  # `ipfs config` refuses to touch Identity.PrivKey: edit the file, keeping its layout.
  tmp="$IPFS_PATH/config.tmp"
  sed -e "s|\"PeerID\": \"[^\"]*\"|\"PeerID\": \"$peer_id\"|" \
      -e "s|\"PrivKey\": \"[^\"]*\"|\"PrivKey\": \"$priv\"|" "$IPFS_PATH/config" > "$tmp"
  mv "$tmp" "$IPFS_PATH/config"
fi
self_id=$(ipfs config Identity.PeerID)

# Private network: the key next to the repo (a link to the mounted Secret, or a 0600 copy); the
# daemon also runs with LIBP2P_FORCE_PNET=1. An offline repo holds no key at all.
rm -f "$IPFS_PATH/swarm.key"
if [ "$OFFLINE" = false ]; then
  if [ "$SWARM_KEY_LINK" = true ]; then
    ln -s "$KUBO_SWARM_KEY_FILE" "$IPFS_PATH/swarm.key"
  else
    (umask 077 && cp "$KUBO_SWARM_KEY_FILE" "$IPFS_PATH/swarm.key")
  fi
fi

# The AllowedPaths line of one client ("client: cmd cmd"), as a JSON array of /api/v0/<cmd>.
allowed_paths() {
  line=$(grep -E "^$1:" "$KUBO_ALLOWED_PATHS_FILE" | head -n 1)
  [ -n "$line" ] || die "no AllowedPaths line for client $1 in $KUBO_ALLOWED_PATHS_FILE"
  out="["; psep=""
  for c in ${line#*:}; do
    printf '%s' "$c" | grep -Eq '^[a-z][a-z0-9-]*(/[a-z][a-z0-9-]*)*$' || die "bad command $c for client $1"
    out="$out$psep$(jstr "/api/v0/$c")"; psep=", "
  done
  [ "$out" != "[" ] || die "client $1 has an empty AllowedPaths line"
  printf '%s]' "$out"
}

# API.Authorizations: every RPC call needs a bearer token (probes use the gateway port instead),
# and each token reaches only the commands its client calls.
auth="{"; sep=""
set +f
for f in "$KUBO_TOKENS_DIR"/*; do
  set -f
  [ -f "$f" ] || continue
  name=$(basename "$f")
  printf '%s' "$name" | grep -Eq '^[a-z][a-z0-9-]{0,62}$' || continue # skips ..data and friends
  token=$(tr -d ' \n\r' < "$f")
  printf '%s' "$token" | grep -Eq '^[A-Za-z0-9._~-]{24,256}$' || die "token $name must be 24-256 characters of [A-Za-z0-9._~-]"
  paths=$(allowed_paths "$name")
  auth="$auth$sep$(jstr "$name"): {\"AuthSecret\": $(jstr "bearer:$token"), \"AllowedPaths\": $paths}"
  sep=", "
done
set -f
auth="$auth}"
[ "$auth" != "{}" ] || die "no API token in $KUBO_TOKENS_DIR"
cfg API.Authorizations "$auth"

# Peering with the other replicas (and, for a node-local Kubo, with every storage replica).
peering="["; sep=""
if [ "$OFFLINE" = false ] && [ -n "${KUBO_PEERS_FILE:-}" ] && [ -f "$KUBO_PEERS_FILE" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    line=$(printf '%s' "$line" | tr -d ' \r')
    case "$line" in ''|'#'*) continue ;; esac
    printf '%s' "$line" | grep -Eq '^(/[A-Za-z0-9.:_-]+)+/p2p/[1-9A-HJ-NP-Za-km-z]{46,60}$' || die "bad peer address: $line"
    id=${line##*/p2p/}
    [ "$id" = "$self_id" ] && continue
    peering="$peering$sep{\"ID\": $(jstr "$id"), \"Addrs\": [$(jstr "${line%/p2p/*}")]}"
    sep=", "
  done < "$KUBO_PEERS_FILE"
fi
peering="$peering]"
cfg Peering.Peers "$peering"

# A list of multiaddrs as a JSON array.
jlist() { out="["; lsep=""; for a in $1; do out="$out$lsep$(jstr "$a")"; lsep=", "; done; printf '%s]' "$out"; }
cfg Addresses.API "$(jlist "$API_ADDR")"
cfg Addresses.Gateway "$(jlist "$GATEWAY_ADDR")"
if [ "$OFFLINE" = true ]; then cfg Addresses.Swarm '[]'; else cfg Addresses.Swarm "[$(jstr "$SWARM_ADDR")]"; fi
cfg Addresses.Announce '[]'
cfg Addresses.NoAnnounce '[]'

# No public bootstrap, routing or discovery unless the overlay asks for them. AutoConf would
# fetch public defaults ("auto" placeholders), so it is off and every placeholder is explicit.
cfg AutoConf.Enabled false
cfg Bootstrap "$BOOTSTRAP"
cfg Routing.Type "$(jstr "$ROUTING_TYPE")"
cfg Routing.DelegatedRouters '[]'
cfg Ipns.DelegatedPublishers '[]'
cfg DNS.Resolvers '{}'
cfg Discovery.MDNS.Enabled false
cfg Swarm.RelayClient.Enabled false
cfg Swarm.RelayService.Enabled false
cfg Swarm.EnableHolePunching false
cfg AutoNAT.ServiceMode '"disabled"'
# Only TCP carries a pre-shared key: QUIC, WebTransport and WebRTC cannot join a private network.
cfg Swarm.Transports.Network.QUIC false
cfg Swarm.Transports.Network.WebTransport false
cfg Swarm.Transports.Network.WebRTCDirect false
cfg Swarm.Transports.Network.Websocket false
cfg AutoTLS.Enabled false
cfg Plugins.Plugins.telemetry.Config.Mode '"off"'

# Garbage collection and the repo size (the daemon runs with --enable-gc).
cfg Datastore.StorageMax "$(jstr "$STORAGE_MAX")"
cfg Datastore.StorageGCWatermark "$GC_WATERMARK"
cfg Datastore.GCPeriod "$(jstr "$GC_PERIOD")"

# Resource manager and connection manager limits.
cfg Swarm.ResourceMgr.Enabled true
cfg Swarm.ResourceMgr.MaxMemory "$(jstr "$RM_MAX_MEMORY")"
cfg Swarm.ConnMgr.Type '"basic"'
cfg Swarm.ConnMgr.LowWater "$CONNMGR_LOW"
cfg Swarm.ConnMgr.HighWater "$CONNMGR_HIGH"

# Gateway: read-only (Kubo has no writable gateway); NoFetch by default, so no HTTP visitor can
# make a Kubo fetch content it does not hold; no routing API on the gateway port. Limits on
# purpose: MaxConcurrentRequests answers 429 past it (nginx's limit_conn is lower per client),
# RetrievalTimeout ends a stalled response (nginx's proxy_read_timeout is longer), and
# MaxRangeRequestFileSize stays 0 (no cap) where nginx's slice module turns every file request
# into 1 MiB ranges: a cap would make every file above it answer 501.
cfg Gateway.NoFetch "$NO_FETCH"
cfg Gateway.HTTPHeaders "$GATEWAY_HEADERS"
cfg Gateway.ExposeRoutingAPI false
cfg Gateway.MaxConcurrentRequests "$MAX_CONCURRENT"
cfg Gateway.RetrievalTimeout "$(jstr "$RETRIEVAL_TIMEOUT")"
cfg Gateway.MaxRequestDuration "$(jstr "$MAX_REQUEST_DURATION")"
cfg Gateway.MaxRangeRequestFileSize "$(jstr "$MAX_RANGE_FILE_SIZE")"
if [ -n "$PUBLIC_HOSTNAME" ]; then
  # Subdomain gateway: /ipfs/<cid> on HOST redirects to <cid>.ipfs.HOST, so tenant HTML runs on
  # an origin of its own, never on the gateway's. No DNSLink: nothing outside /ipfs/ is served.
  cfg Gateway.PublicGateways "{$(jstr "$PUBLIC_HOSTNAME"): {\"UseSubdomains\": true, \"Paths\": [\"/ipfs\"], \"NoDNSLink\": true, \"InlineDNSLink\": false}}"
else
  cfg Gateway.PublicGateways '{}'
fi

echo "kubo-init: configured $self_id (routing $ROUTING_TYPE, no-fetch $NO_FETCH, offline $OFFLINE)"
