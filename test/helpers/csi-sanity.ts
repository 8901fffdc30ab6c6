// Runs the pinned csi-sanity binary with a fresh JUnit report and reads that report back.
import { execFile } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { CSI_SANITY_BIN, RESULTS_DIR, logFile } from './repo.js'
import { parseJunit, type JunitCase } from './junit.js'

const execFileP = promisify(execFile)

export interface SanityRun {
  exitCode: number | string
  output: string
  /** Where the output was saved (test-results/logs). */
  outputFile: string
  /** undefined when csi-sanity wrote no report. */
  report?: JunitCase[]
}

/** `name` names the report (test-results/<name>.xml) and the output log. */
export async function runCsiSanity (name: string, args: string[], timeoutMs: number): Promise<SanityRun> {
  await mkdir(RESULTS_DIR, { recursive: true })
  const junit = path.join(RESULTS_DIR, `${name}.xml`)
  // A report left by an earlier run must never be read as this run's.
  await rm(junit, { force: true })
  let output = ''
  let exitCode: number | string = 0
  try {
    const r = await execFileP(CSI_SANITY_BIN, [...args, `--ginkgo.junit-report=${junit}`, '--ginkgo.no-color'], { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs })
    output = r.stdout + r.stderr
  } catch (err) {
    const e = err as { stdout?: string, stderr?: string, code?: number | string, signal?: string }
    output = (e.stdout ?? '') + (e.stderr ?? '')
    exitCode = e.code ?? e.signal ?? 'unknown'
  }
  const outputFile = logFile(`${name}-output`)
  await writeFile(outputFile, output)
  const xml = await readFile(junit, 'utf8').catch(() => undefined)
  return { exitCode, output, outputFile, ...(xml !== undefined ? { report: parseJunit(xml) } : {}) }
}
