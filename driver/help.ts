// `ipfs-csi <command> --help`: what each command does and every flag it takes. A unit test
// checks that each command's flag table (SERVE_FLAGS, MOUNT_FLAGS...) appears here in full.
// api and gateway print their own (API_USAGE, GATEWAY_USAGE).
import { DEFAULTS } from './constants.js'

const ENV = 'Every flag can also be set as IPFS_CSI_<FLAG> (e.g. --kubo-api as IPFS_CSI_KUBO_API).'
const LOG = '  --log-level L                     error, warn, info (default) or debug; JSON lines on stderr'
const METRICS = '  --metrics-listen HOST:PORT        serve Prometheus metrics at http://HOST:PORT/metrics (":9100" = all interfaces)'

export const HELP: Record<string, string> = {
  serve: `usage: ipfs-csi serve [flags]

Runs the CSI services (Identity, and Controller and/or Node) on a unix socket. ${ENV}

  --mode controller|node|all        which services (default all)
  --endpoint unix:///PATH           the CSI socket (default ${DEFAULTS.endpoint})
  --node-id NAME                    this node's name (or NODE_NAME); needed in node and all modes
  --kubo-api URL                    Kubo RPC API: node-local Kubo in node mode, storage Kubo for the controller
  --kubo-api-token-file FILE        bearer token for that Kubo's API.Authorizations
  --fuse-kubo-api URL               the node Kubo as FUSE servers reach it (default --kubo-api; the data-plane pod's loopback)
  --kubo-blocks-dir DIR             the node Kubo's flatfs blocks directory (read-only): local blocks skip the API
  --storage-kubo-api URL            Kubo holding writable volumes (MFS) and records (default --kubo-api)
  --storage-kubo-api-token-file FILE
  --cluster-api URL                 IPFS Cluster REST API: volumes and snapshots are pinned through it
  --cluster-basic-auth-file FILE    user:password for the Cluster REST API
  --state-dir DIR                   per-volume state and FUSE server specs (default ${DEFAULTS.stateDir})
  --kubelet-dir DIR                 kubelet's root dir (default ${DEFAULTS.kubeletDir})
  --fuse-launcher local|unix:///SOCK  who starts FUSE servers: this process, or ipfs-csi fuse-host at SOCK
  --fuse-max-heap-mib N             V8 heap limit of each volume's FUSE server (default ${DEFAULTS.fuseMaxHeapMiB})
  --fuse-run-as UID:GID             --fuse-launcher local: each FUSE server drops to this uid/gid once mounted (no
                                    capabilities, no_new_privs); it must read the --kubo-blocks-dir files
  --max-volumes-per-node N          max_volumes_per_node in NodeGetInfo (default 0: no limit)
  --spill-dir DIR                   where writable volumes keep files open for writing (default $TMPDIR/ipfs-csi-spill of the FUSE server)
  --spill-max-bytes N               what those spill files of the whole node may take (default ${DEFAULTS.spillMaxBytes}); past it, ENOSPC
  --spill-volume-max-bytes N        what one volume's spill files may take (default half of --spill-max-bytes)
  --inline-policy-file FILE         which namespaces may mount what as inline ephemeral volumes (reloaded when
                                    it changes); unset: inline volumes are refused (docs/security.md)
  --registration-socket SOCK        node mode: serve kubelet plugin registration on SOCK (in plugins_registry)
  --kubelet-registration-path SOCK  the CSI socket as kubelet sees it on the host (with --registration-socket)
  --kubo-timeout-ms N               deadline of each Kubo call (default ${DEFAULTS.kuboTimeoutMs})
  --read-timeout-ms N               a FUSE read Kubo cannot serve in N ms gets EIO (default ${DEFAULTS.readTimeoutMs})
  --default-capacity-bytes N        capacity of a writable volume when the request names none
  --heal-interval-ms N              how often dead FUSE servers are found and remounted (default ${DEFAULTS.healIntervalMs}; 0: only at start)
  --node-cache-max-bytes N          GC unpinned content when the node Kubo's repo is larger
${METRICS}
                                    (node mode: its FUSE servers' metrics too, with a volume label)
${LOG}`,

  mount: `usage: ipfs-csi mount <cid>[/path] <dir> [flags]

Mounts IPFS content read-only at <dir> outside Kubernetes, in the foreground, verified block by
block; Ctrl-C (or SIGTERM) unmounts. ${ENV}

  --kubo-api URL                    Kubo RPC API (default http://127.0.0.1:5001)
  --kubo-api-token-file FILE        bearer token for Kubo's API.Authorizations
  --kubo-blocks-dir DIR             that Kubo's flatfs blocks directory: local blocks are read from disk
  --read-timeout-ms N               a read Kubo cannot serve in N ms gets EIO (default ${DEFAULTS.readTimeoutMs})
  --kubo-timeout-ms N               deadline of other Kubo calls (default ${DEFAULTS.kuboTimeoutMs})
  --block-cache-bytes N             verified blocks kept in memory (default ${DEFAULTS.blockCacheBytes})
  --read-ahead-blocks N             leaves fetched ahead of a sequential reader at first (default ${DEFAULTS.readAheadBlocks}; 0: none)
  --fuse-run-as UID:GID             serve as this uid/gid once mounted (run as root; a root helper unmounts
                                    on exit); it must read the --kubo-blocks-dir files
${METRICS}
                                    (this mount's read path: reads, bytes, latency, blocks by source...)
${LOG}`,

  'preload serve': `usage: ipfs-csi preload serve --desired FILE --node-name NAME [flags]

Warms the content of the desired-state file (the preload ConfigMap) into this node's Kubo and
keeps it pinned; serves /status, /metrics and /healthz at --listen. ${ENV}

  --desired FILE                    desired-state YAML/JSON (re-read when it changes)
  --kubo-api URL                    the node-local Kubo (default http://127.0.0.1:5001)
  --kubo-api-token-file FILE        bearer token for that Kubo's API.Authorizations
  --node-name NAME                  this node (or NODE_NAME)
  --node-labels k=v,...             this node's labels, for the entries' node selectors
  --listen HOST:PORT                status endpoint (default 127.0.0.1:9464)
  --concurrency N                   blocks fetched at once (default 32)
  --kubo-timeout-ms N               deadline of each Kubo call
  --poll-interval-ms N              how often the desired file is checked (default 2000)
${METRICS}
                                    (a second endpoint with /metrics only; /metrics is also on --listen)
${LOG}`,

  'preload status': `usage: ipfs-csi preload status [--url http://HOST:PORT] [--watch] [--json]

Shows a running preloader's entries and their progress; exit 1 when an entry failed.

  --url URL                         the preloader's status endpoint (default http://127.0.0.1:9464)
  --watch                           keep showing progress until every entry is ready or failed
  --interval-ms N                   how often --watch asks (default 2000)
  --json                            the raw /status answer`,

  verify: `usage: ipfs-csi verify <cid> [flags]

Re-hashes every block of a DAG against its CID, and checks checksum manifests (SHA256SUMS...)
found in it; exit 0 when all is well, 1 when anything is wrong, 2 on bad usage. Progress goes
to stderr: one line redrawn on a terminal, a plain line every 5 s when piped.

  --kubo-api URL                    Kubo RPC API (default http://127.0.0.1:5001)
  --kubo-api-token-file FILE        bearer token for Kubo's API.Authorizations
  --offline                         only blocks that Kubo already has (never fetch)
  --timeout-ms N                    deadline of each block fetch
  --total-timeout-ms N              deadline of the whole check (default 6 h)
  --concurrency N                   blocks fetched and hashed at once (default 16)
  --json                            the report as JSON
  --log-level L                     error, warn (default), info or debug`,

  'content ls': `usage: ipfs-csi content ls [flags]

Lists what the storage tier holds for the driver: volumes, snapshots and preloads, with size,
replication per Cluster peer and which nodes pin them. Progress goes to stderr (redrawn on a
terminal, plain lines when piped).

  --kubo-api URL                    the storage Kubo (default http://127.0.0.1:5001)
  --cluster-api URL                 the IPFS Cluster REST API
  --cluster-basic-auth-file FILE    user:password for it
  --node-kubo-api URL               a node-local Kubo to ask what it pins (repeat for each node)
  --json                            as JSON`,

  'fuse-server': `usage: ipfs-csi fuse-server --spec FILE [--run-as UID:GID]

(internal) One volume's FUSE server, started by the node service or the fuse-host from the spec
the node service wrote. Serves its metrics on metrics.sock next to the spec.

  --spec FILE                       <state-dir>/volumes/<key>/spec.json
  --run-as UID:GID                  drop to this uid/gid once mounted (the spawner detaches the mount after a stop)`,

  'fuse-host': `usage: ipfs-csi fuse-host --socket PATH [flags]

Starts FUSE servers for the node service (as children of its own container, so they outlive node
service restarts); one JSON request per connection on a root-only unix socket. ${ENV}

  --socket PATH                     the launcher socket (absolute)
  --state-dir DIR                   only specs under DIR/volumes/ are started (default /var/lib/ipfs-csi)
  --fuse-run-as UID:GID             each FUSE server drops to this uid/gid once mounted (no capabilities,
                                    no_new_privs); it must read the --kubo-blocks-dir files (docs/security.md item 9)
${METRICS}
                                    (servers started, refused requests, how servers ended)
${LOG}`
}

/** Help of `cmd` (with its subcommand where it has them), or undefined when there is none. */
export function helpFor (cmd: string, sub?: string): string | undefined {
  if (cmd === 'preload') return sub === 'status' ? HELP['preload status'] : sub === 'serve' ? HELP['preload serve'] : `${HELP['preload serve'] ?? ''}\n\n${HELP['preload status'] ?? ''}`
  if (cmd === 'content') return HELP['content ls']
  return HELP[cmd]
}
