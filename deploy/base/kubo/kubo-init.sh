#!/bin/sh
# Configures a Kubo repo for ipfs-csi before the daemon starts (an init container runs it on every
# pod start, so a changed ConfigMap or Secret applies on the next restart). POSIX sh: the Kubo
# image has busybox, no jq. Every value comes from the environment or a mounted file:
#   IPFS_PATH              repo (created with `ipfs init` when it has no config yet)
#   KUBO_SWARM_KEY_FILE    private network key (required: the network is always private)
#   KUBO_TOKENS_DIR        one file per API client, file name = client name, content = bearer token;
#                          becomes API.Authorizations (at least one token is required)
#   KUBO_IDENTITY_DIR      optional: <name>.privkey and <name>.peerid for a stable identity, where
#                          name is KUBO_IDENTITY_NAME (default: the hostname, e.g. ipfs-kubo-1)
#   KUBO_PEERS_FILE        optional: one /dns4/.../tcp/4001/p2p/<id> per line → Peering.Peers
#   KUBO_API_ADDR, KUBO_GATEWAY_ADDR, KUBO_SWARM_ADDR   listen multiaddrs
#   KUBO_ROUTING_TYPE (none), KUBO_BOOTSTRAP (JSON array, []), KUBO_GATEWAY_NO_FETCH (false),
#   KUBO_GATEWAY_HEADERS (JSON object), KUBO_STORAGE_MAX (10GB), KUBO_GC_WATERMARK (90),
#   KUBO_GC_PERIOD (1h), KUBO_RM_MAX_MEMORY (1GB), KUBO_CONNMGR_LOW (50), KUBO_CONNMGR_HIGH (200)
set -eu

die() { echo "kubo-init: $*" >&2; exit 1; }
cfg() { ipfs config --json "$1" "$2" >/dev/null || die "cannot set $1"; }
# JSON string from a value we checked against a safe alphabet (no quotes or backslashes).
jstr() { printf '"%s"' "$1"; }

: "${IPFS_PATH:?IPFS_PATH is required}"
: "${KUBO_SWARM_KEY_FILE:?KUBO_SWARM_KEY_FILE is required (private network)}"
: "${KUBO_TOKENS_DIR:?KUBO_TOKENS_DIR is required (API.Authorizations)}"
API_ADDR=${KUBO_API_ADDR:-/ip4/0.0.0.0/tcp/5001}
GATEWAY_ADDR=${KUBO_GATEWAY_ADDR:-/ip4/0.0.0.0/tcp/8080}
SWARM_ADDR=${KUBO_SWARM_ADDR:-/ip4/0.0.0.0/tcp/4001}
ROUTING_TYPE=${KUBO_ROUTING_TYPE:-none}
BOOTSTRAP=${KUBO_BOOTSTRAP:-[]}
NO_FETCH=${KUBO_GATEWAY_NO_FETCH:-false}
GATEWAY_HEADERS=${KUBO_GATEWAY_HEADERS:-'{}'}
STORAGE_MAX=${KUBO_STORAGE_MAX:-10GB}
GC_WATERMARK=${KUBO_GC_WATERMARK:-90}
GC_PERIOD=${KUBO_GC_PERIOD:-1h}
RM_MAX_MEMORY=${KUBO_RM_MAX_MEMORY:-1GB}
CONNMGR_LOW=${KUBO_CONNMGR_LOW:-50}
CONNMGR_HIGH=${KUBO_CONNMGR_HIGH:-200}

for v in "$API_ADDR" "$GATEWAY_ADDR" "$SWARM_ADDR"; do
  printf '%s' "$v" | grep -Eq '^(/[A-Za-z0-9.:_-]+)+$' || die "bad multiaddr: $v"
done
printf '%s' "$ROUTING_TYPE" | grep -Eq '^(none|dht|dhtclient|dhtserver|auto|autoclient)$' || die "bad KUBO_ROUTING_TYPE: $ROUTING_TYPE"
case "$NO_FETCH" in true|false) ;; *) die "KUBO_GATEWAY_NO_FETCH must be true or false" ;; esac
printf '%s' "$STORAGE_MAX" | grep -Eq '^[0-9]+(B|KB|MB|GB|TB)$' || die "bad KUBO_STORAGE_MAX: $STORAGE_MAX"
printf '%s' "$RM_MAX_MEMORY" | grep -Eq '^[0-9]+(B|KB|MB|GB|TB|KiB|MiB|GiB)$' || die "bad KUBO_RM_MAX_MEMORY: $RM_MAX_MEMORY"
printf '%s' "$GC_PERIOD" | grep -Eq '^[0-9]+(s|m|h)$' || die "bad KUBO_GC_PERIOD: $GC_PERIOD"
for n in "$GC_WATERMARK" "$CONNMGR_LOW" "$CONNMGR_HIGH"; do
  printf '%s' "$n" | grep -Eq '^[0-9]{1,6}$' || die "bad number: $n"
done
[ -s "$KUBO_SWARM_KEY_FILE" ] || die "swarm key $KUBO_SWARM_KEY_FILE is missing or empty"
head -n 1 "$KUBO_SWARM_KEY_FILE" | grep -q '^/key/swarm/psk/1.0.0/$' || die "swarm key is not a /key/swarm/psk/1.0.0/ file"

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

# Private network: the key file next to the repo; the daemon also runs with LIBP2P_FORCE_PNET=1.
cp "$KUBO_SWARM_KEY_FILE" "$IPFS_PATH/swarm.key"
chmod 600 "$IPFS_PATH/swarm.key"

# API.Authorizations: every RPC call needs a bearer token (probes use the gateway port instead).
auth="{"; sep=""
for f in "$KUBO_TOKENS_DIR"/*; do
  [ -f "$f" ] || continue
  name=$(basename "$f")
  printf '%s' "$name" | grep -Eq '^[a-z][a-z0-9-]{0,62}$' || continue # skips ..data and friends
  token=$(tr -d ' \n\r' < "$f")
  printf '%s' "$token" | grep -Eq '^[A-Za-z0-9._~-]{24,256}$' || die "token $name must be 24-256 characters of [A-Za-z0-9._~-]"
  auth="$auth$sep$(jstr "$name"): {\"AuthSecret\": $(jstr "bearer:$token"), \"AllowedPaths\": [\"/api/v0\"]}"
  sep=", "
done
auth="$auth}"
[ "$auth" != "{}" ] || die "no API token in $KUBO_TOKENS_DIR"
cfg API.Authorizations "$auth"

# Peering with the other replicas (and, for a node-local Kubo, with every storage replica).
peering="["; sep=""
if [ -n "${KUBO_PEERS_FILE:-}" ] && [ -f "$KUBO_PEERS_FILE" ]; then
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

cfg Addresses.API "$(jstr "$API_ADDR")"
cfg Addresses.Gateway "$(jstr "$GATEWAY_ADDR")"
cfg Addresses.Swarm "[$(jstr "$SWARM_ADDR")]"
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

# Gateway: read-only (Kubo has no writable gateway), NoFetch for a public gateway so a visitor
# cannot make us fetch arbitrary content, no directory-listing of subdomains we do not serve.
cfg Gateway.NoFetch "$NO_FETCH"
cfg Gateway.HTTPHeaders "$GATEWAY_HEADERS"
cfg Gateway.PublicGateways '{}'

echo "kubo-init: configured $self_id (routing $ROUTING_TYPE, no-fetch $NO_FETCH)"
