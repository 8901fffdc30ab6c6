#!/usr/bin/env node
// `ipfs-csi`: one binary for the CSI services, the FUSE server, and the tools around them.
import { ConfigError } from './config.js'
import { DRIVER_VERSION } from './constants.js'
import { helpFor } from './help.js'

const USAGE = `usage: ipfs-csi <command> [flags]

commands:
  serve --mode controller|node|all --endpoint unix:///path/csi.sock --node-id NAME
        --kubo-api URL --state-dir DIR --kubelet-dir DIR     run the CSI services
  mount <cid>[/path] <dir> --kubo-api URL                      mount content outside Kubernetes
  preload serve --desired FILE --kubo-api URL --node-name NAME  warm content on this node (DaemonSet)
  preload status [--url http://HOST:PORT]                      show the preloader's progress
  verify <cid> --kubo-api URL                                  re-hash every block (and checksum manifests)
  content ls --kubo-api URL [--cluster-api URL]                what the cluster holds for the driver
  gateway publish|unpublish CID... | ls | sync --published FILE  what the public gateway serves
  gateway exporter --metrics-listen HOST:PORT                  the gateway nginx's metrics (sidecar)
  gateway kubo-metrics --kubo-api URL                          a Kubo's own metrics on a port of its own (sidecar)
  api serve --listen HOST:PORT --kubo-api URL --audience AUD ... the Pinning Service API and model index
  fuse-server --spec FILE                                      (internal) one volume's FUSE server
  fuse-host --socket PATH --state-dir DIR [--fuse-run-as U:G]  start FUSE servers for the node service

Every serve flag can also be set as IPFS_CSI_<FLAG> (e.g. IPFS_CSI_KUBO_API).
serve, mount, fuse-host, preload serve and api serve take --metrics-listen HOST:PORT (Prometheus).
ipfs-csi <command> --help   every flag of a command        ipfs-csi --version   this build's version`

async function main (argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    console.log(`ipfs-csi ${DRIVER_VERSION}`)
    return 0
  }
  // `<command> --help` anywhere in its arguments, before any flag is parsed or validated.
  if (cmd !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    const help = helpFor(cmd, rest[0])
    if (help !== undefined) { console.log(help); return 0 }
  }
  switch (cmd) {
    case 'serve': return await (await import('./serve.js')).serveCommand(rest)
    case 'mount': return await (await import('../node-plugin/fuse/mount-command.js')).mountCommand(rest)
    case 'fuse-server': return await (await import('../node-plugin/fuse/fuse-server.js')).fuseServerCommand(rest)
    case 'fuse-host': return await (await import('../node-plugin/fuse-host.js')).fuseHostCommand(rest)
    case 'preload': return await (await import('../preloader/preload-command.js')).preloadCommand(rest)
    case 'verify': return await (await import('../preloader/verify-command.js')).verifyCommand(rest)
    case 'content': return await (await import('../controller/content-command.js')).contentCommand(rest)
    case 'gateway': return await (await import('../gateway/gateway-command.js')).gatewayCommand(rest)
    case 'api': return await (await import('../api/api-command.js')).apiCommand(rest)
    case undefined: case '-h': case '--help': case 'help':
      console.log(USAGE)
      return cmd === undefined ? 2 : 0
    default:
      console.error(`unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`)
      return 2
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code !== 0) process.exitCode = code
}, (err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message)
  else console.error(err instanceof Error ? err.stack : String(err))
  process.exitCode = err instanceof ConfigError ? 2 : 1
})
