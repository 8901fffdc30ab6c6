// Test teardown: removes every mount under `dir` (deepest first) and kills FUSE servers whose
// spec lives there, so a failed test never leaves a mount or a server behind.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { readMountTable } from '../../node-plugin/mount-table.js'
import type { KuboDaemon } from './kubo-daemon.js'

const execFileP = promisify(execFile)

export async function cleanupMounts (dir: string): Promise<void> {
  const table = await readMountTable()
  const mine = table.filter(e => e.mountPoint.startsWith(dir + '/')).sort((a, b) => b.mountPoint.length - a.mountPoint.length)
  for (const m of mine) await execFileP('umount', ['-l', m.mountPoint]).catch(async () => await execFileP('fusermount', ['-uz', m.mountPoint]).catch(() => {}))
  for (const pid of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmd.includes('fuse-server') && cmd.includes(dir)) { try { process.kill(Number(pid), 'SIGKILL') } catch {} }
  }
}

/** Writes `files` (relative path → bytes) into a new temp dir and adds it to Kubo; returns both. */
export async function addTree (kubo: KuboDaemon, files: Record<string, Buffer>, prefix: string, flags = ['--cid-version=1']): Promise<{ dir: string, cid: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix))
  for (const [rel, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true })
    await writeFile(path.join(dir, rel), data)
  }
  return { dir, cid: await kubo.add(dir, flags) }
}
