import test from 'ava'
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { VolumeStateStore, volumeKey, type VolumeState } from '../../node-plugin/volume-state.js'

const tmp = async (t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-state-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

const state = (volumeId: string): VolumeState => ({
  version: 1, volumeId, kind: 'content', source: '/ipfs/x', stagingPath: '/k/s', ephemeral: false, readOnly: true, targets: { '/k/t': { readOnly: true } }, stagedAt: new Date(0).toISOString()
})

test('volumeKey is a fixed-length hex key, distinct per id', (t) => {
  t.regex(volumeKey('/ipfs/bafy/a/b'), /^[0-9a-f]{32}$/)
  t.not(volumeKey('a'), volumeKey('b'))
  t.is(volumeKey('a'), volumeKey('a'))
})

test('state round-trips and leaves no temp files', async (t) => {
  const store = new VolumeStateStore(await tmp(t))
  await store.write(state('vol-1'))
  t.deepEqual(await store.read('vol-1'), state('vol-1'))
  t.deepEqual(await readdir(store.dirOf('vol-1')), ['state.json'])
  t.is(await store.read('vol-2'), undefined)
})

test('a state file naming another volume is not trusted', async (t) => {
  const store = new VolumeStateStore(await tmp(t))
  await mkdir(store.dirOf('vol-a'), { recursive: true })
  await writeFile(path.join(store.dirOf('vol-a'), 'state.json'), JSON.stringify(state('vol-b')))
  t.is(await store.read('vol-a'), undefined)
})

test('list separates valid states from orphan directories', async (t) => {
  const store = new VolumeStateStore(await tmp(t))
  await store.write(state('v1'))
  await store.write(state('v2'))
  await mkdir(store.dirOf('half-staged'), { recursive: true })
  await writeFile(path.join(store.dirOf('half-staged'), 'spec.json'), '{}')
  await mkdir(path.join(store.root, 'not-a-key'), { recursive: true })
  const { states, orphans } = await store.list()
  t.deepEqual(states.map(s => s.volumeId).sort(), ['v1', 'v2'])
  t.deepEqual(orphans, [store.dirOf('half-staged')])
  await store.remove('v1')
  t.is(await store.read('v1'), undefined)
})

test('readStatus ignores missing, corrupt and implausible pid files', async (t) => {
  const store = new VolumeStateStore(await tmp(t))
  t.is(await store.readStatus('v'), undefined)
  await store.ensureDir('v')
  await writeFile(store.statusPath('v'), 'not json')
  t.is(await store.readStatus('v'), undefined)
  await writeFile(store.statusPath('v'), JSON.stringify({ pid: 1 }))
  t.is(await store.readStatus('v'), undefined)
  await writeFile(store.statusPath('v'), JSON.stringify({ pid: 4242 }))
  t.is((await store.readStatus('v'))?.pid, 4242)
})
