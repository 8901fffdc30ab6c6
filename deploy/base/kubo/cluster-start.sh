#!/bin/sh
# Starts the IPFS Cluster peer beside a Kubo replica. Its identity comes from a Secret (one per
# replica, chosen by CLUSTER_PEER_NAME = the pod name, else the hostname) so the CRDT trusted-peer
# list and the peer addresses are known in
# advance; every other setting is an env override of service.json (CLUSTER_* variables).
set -eu
name=${CLUSTER_PEER_NAME:-$(hostname)}
printf '%s' "$name" | grep -Eq '^[a-z0-9][a-z0-9.-]{0,62}$' || { echo "cluster-start: bad peer name $name" >&2; exit 1; }
id_file="/identities/$name.peerid"
key_file="/identities/$name.privkey"
[ -s "$id_file" ] && [ -s "$key_file" ] || { echo "cluster-start: no identity for $name" >&2; exit 1; }
CLUSTER_ID=$(tr -d ' \n\r' < "$id_file")
CLUSTER_PRIVATEKEY=$(tr -d ' \n\r' < "$key_file")
CLUSTER_PEERNAME=$name
# Comma-separated lists from the ipfs-peers ConfigMap (one entry per line there).
CLUSTER_PEERADDRESSES=$(grep -v "/p2p/$CLUSTER_ID\$" /peers/cluster-peers | grep . | paste -sd, -)
CLUSTER_CRDT_TRUSTEDPEERS=$(sed -n 's|.*/p2p/||p' /peers/cluster-peers | paste -sd, -)
export CLUSTER_ID CLUSTER_PRIVATEKEY CLUSTER_PEERNAME CLUSTER_PEERADDRESSES CLUSTER_CRDT_TRUSTEDPEERS
if [ ! -f "$IPFS_CLUSTER_PATH/service.json" ]; then
  ipfs-cluster-service init --consensus crdt --datastore pebble
fi
exec ipfs-cluster-service daemon
