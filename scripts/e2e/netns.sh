#!/bin/sh
# Runs a command (the e2e runner) in a new network namespace of its own: `unshare --net` makes it,
# this script brings loopback up and adds a veth pair (both ends in here; the `dummy` link type
# needs a kernel module this machine may lack) holding the node address (kubelet refuses a
# loopback node IP). The cluster, its pods and their bridge live only in there; the namespace
# disappears with the last process in it. Usage: unshare --net -- sh scripts/e2e/netns.sh CMD...
set -eu
ip link set lo up
ip link add e2e0 type veth peer name e2e1
ip link set e2e1 up
ip link set e2e0 up
ip addr add 198.18.0.1/32 dev e2e0
exec "$@"
