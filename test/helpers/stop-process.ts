// SIGTERM, then SIGKILL after a grace period, then wait for the exit.
import type { ChildProcess } from 'node:child_process'

export async function stopProcess (child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try { child.kill('SIGCONT') } catch {}
  child.kill('SIGTERM')
  const t = setTimeout(() => { try { child.kill('SIGKILL') } catch {} }, graceMs)
  await exited
  clearTimeout(t)
}
