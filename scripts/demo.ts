// `make demo`: the main job on an embedded default. Starts a local Kubo, adds a generated sample
// "model", starts the driver and does what kubelet does over the CSI socket: CreateVolume from the
// CID, NodeStageVolume, NodePublishVolume to ./mnt/model. Then it prints the tree, checks every
// file's sha256 against the source, and keeps the mount up until Ctrl-C (or exits at once with
// --once), unpublishing, unstaging and stopping cleanly.
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KuboDaemon } from '../test/helpers/kubo-daemon.js'
import { DriverProcess } from '../test/helpers/driver-process.js'
import { ROOT } from '../test/helpers/repo.js'

const MODEL_MIB = Number(process.env.DEMO_MODEL_MIB ?? 64)

async function sha256 (file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer)
  return h.digest('hex')
}

async function walk (dir: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const e of (await readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const r = path.join(rel, e.name)
    if (e.isDirectory()) out.push(...await walk(dir, r))
    else out.push(r)
  }
  return out
}

async function makeModel (dir: string): Promise<void> {
  await mkdir(path.join(dir, 'tokenizer'), { recursive: true })
  // Random weights: incompressible, like real ones. Written in 1 MiB chunks to keep memory flat.
  const weights = path.join(dir, 'model.safetensors')
  const chunks: Buffer[] = []
  for (let i = 0; i < MODEL_MIB; i++) chunks.push(randomBytes(1 << 20))
  await writeFile(weights, Buffer.concat(chunks))
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ architectures: ['DemoForCausalLM'], hidden_size: 512, num_hidden_layers: 4, vocab_size: 32000 }, null, 2))
  await writeFile(path.join(dir, 'generation_config.json'), JSON.stringify({ temperature: 0.7, top_p: 0.9 }, null, 2))
  await writeFile(path.join(dir, 'tokenizer', 'tokenizer.json'), JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`tok${i}`, i])) } }))
  await writeFile(path.join(dir, 'tokenizer', 'special_tokens_map.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>' }))
}

const step = (msg: string): void => { console.log(`==> ${msg}`) }

async function main (): Promise<number> {
  const once = process.argv.includes('--once') || process.env.DEMO_ONCE === '1'
  const work = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-demo-'))
  const modelDir = path.join(work, 'model')
  const kubeletDir = path.join(ROOT, 'mnt')
  const target = path.join(kubeletDir, 'model')
  const staging = path.join(kubeletDir, '.staging', 'model')
  let kubo: KuboDaemon | undefined
  let driver: DriverProcess | undefined
  let volumeId = ''
  let staged = false
  let published = false
  let ok = false
  try {
    step('starting a local Kubo (temporary repo, loopback, random ports)')
    kubo = await KuboDaemon.start({ name: 'demo' })
    console.log(`    Kubo RPC ${kubo.apiUrl}`)
    step(`generating a sample model (${MODEL_MIB} MiB weights, JSON files, a nested folder)`)
    await makeModel(modelDir)
    const cid = await kubo.add(modelDir, ['--cid-version=1', '--raw-leaves'])
    console.log(`    model CID ${cid}`)

    step('starting the driver: ipfs-csi serve --mode all --kubo-blocks-dir <repo>/blocks')
    await mkdir(kubeletDir, { recursive: true })
    // As deployed: the node Kubo's blocks directory is readable, so local blocks skip the API.
    driver = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'all', nodeId: 'demo-node', extraArgs: ['--kubelet-dir', kubeletDir, '--kubo-blocks-dir', path.join(kubo.repo, 'blocks')], name: 'demo' })
    const csi = driver.csi
    const info = await csi.identity.GetPluginInfo({})
    console.log(`    ${info.name} ${info.vendor_version}, log: ${driver.logPath}`)

    const cap = { mount: { fs_type: '', mount_flags: [] }, access_mode: { mode: 'MULTI_NODE_READER_ONLY' } }
    step('CreateVolume (StorageClass parameter cid)')
    const created = await csi.controller.CreateVolume({ name: 'pvc-demo-model', volume_capabilities: [cap], parameters: { cid } })
    volumeId = created.volume.volume_id
    console.log(`    volume ${volumeId}`)

    step(`NodeStageVolume at ${path.relative(ROOT, staging)}`)
    let t0 = performance.now()
    await csi.node.NodeStageVolume({ volume_id: volumeId, staging_target_path: staging, volume_capability: cap, volume_context: created.volume.volume_context })
    staged = true
    console.log(`    staged in ${Math.round(performance.now() - t0)} ms`)

    step(`NodePublishVolume to ${path.relative(ROOT, target)} (read-only)`)
    t0 = performance.now()
    await csi.node.NodePublishVolume({ volume_id: volumeId, staging_target_path: staging, target_path: target, volume_capability: cap, readonly: true, volume_context: created.volume.volume_context })
    published = true
    console.log(`    published in ${Math.round(performance.now() - t0)} ms`)

    step('tree and sha256 check of every file')
    const files = await walk(modelDir)
    let good = 0
    for (const f of files) {
      const [a, b] = await Promise.all([sha256(path.join(modelDir, f)), sha256(path.join(target, f))])
      const size = (await stat(path.join(target, f))).size
      const same = a === b
      if (same) good++
      console.log(`    ${same ? 'ok ' : 'BAD'} ${f.padEnd(40)} ${String(size).padStart(10)} B  ${b.slice(0, 16)}`)
    }
    const mounted = await walk(target)
    if (mounted.join('\n') !== files.join('\n')) console.log('    BAD: the mounted tree differs from the source tree')
    ok = good === files.length && mounted.length === files.length
    console.log(`    ${good} of ${files.length} files match the source`)

    if (ok && !once) {
      step(`the model stays mounted at ${target}; press Ctrl-C to unmount and stop`)
      await new Promise<void>((resolve) => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve) })
    }
  } finally {
    const csi = driver?.client
    if (csi != null && published) { step('NodeUnpublishVolume'); await csi.node.NodeUnpublishVolume({ volume_id: volumeId, target_path: target }).catch((e: Error) => console.error(e.message)) }
    if (csi != null && staged) { step('NodeUnstageVolume'); await csi.node.NodeUnstageVolume({ volume_id: volumeId, staging_target_path: staging }).catch((e: Error) => console.error(e.message)) }
    if (csi != null && volumeId !== '') { step('DeleteVolume'); await csi.controller.DeleteVolume({ volume_id: volumeId }).catch((e: Error) => console.error(e.message)) }
    step('stopping the driver and Kubo')
    await driver?.stop()
    await kubo?.dispose()
    await rm(work, { recursive: true, force: true })
  }
  console.log(ok ? 'demo: OK' : 'demo: FAILED')
  return ok ? 0 : 1
}

main().then((code) => { process.exitCode = code }, (err: unknown) => {
  console.error(err instanceof Error ? err.stack : err)
  process.exitCode = 1
})
