// `make demo` must keep working: run it once (non-interactive) and require every file to verify.
import test from 'ava'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { ROOT } from '../helpers/repo.js'

const execFileP = promisify(execFile)

test('the demo mounts the sample model through the driver and verifies every file', async (t) => {
  const { stdout } = await execFileP(process.execPath, [path.join(ROOT, 'dist/scripts/demo.js'), '--once'], { env: { ...process.env, DEMO_MODEL_MIB: '16' }, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 })
  t.log(stdout.split('\n').filter(l => /files match|staged in|published in/.test(l)).join('\n'))
  t.regex(stdout, /5 of 5 files match the source/)
  t.regex(stdout, /demo: OK/)
  t.false(/\bBAD\b/.test(stdout))
})
