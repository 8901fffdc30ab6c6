// Paths of the checkout, seen from compiled tests in dist/test/helpers.
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { mkdirSync } from 'node:fs'

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const TOOLS_BIN = path.join(ROOT, '.tools', 'bin')
export const IPFS_BIN = path.join(TOOLS_BIN, 'ipfs')
export const CSI_SANITY_BIN = path.join(TOOLS_BIN, 'csi-sanity')
export const CLI = path.join(ROOT, 'dist', 'driver', 'cli.js')
export const RESULTS_DIR = path.join(ROOT, 'test-results')

/** A log file under test-results/logs, so CI can show daemon output of a failed run. */
export function logFile (name: string): string {
  const dir = path.join(RESULTS_DIR, 'logs')
  mkdirSync(dir, { recursive: true })
  return path.join(dir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}-${process.pid}-${Date.now()}.log`)
}
