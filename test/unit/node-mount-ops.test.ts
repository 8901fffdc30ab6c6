import test from 'ava'
import { tmpdir } from 'node:os'
import { probeFs, run } from '../../node-plugin/mount-ops.js'

test('probeFs reports statfs numbers of a live filesystem', async (t) => {
  const r = await probeFs(tmpdir())
  t.true(r.ok, JSON.stringify(r))
  if (r.ok) {
    t.true(r.usage.frsize > 0)
    t.true(r.usage.blocks >= r.usage.bfree)
    t.true(r.usage.bfree >= r.usage.bavail)
  }
})

test('probeFs tells a missing path apart', async (t) => {
  const r = await probeFs('/nonexistent/ipfs-csi/probe')
  t.false(r.ok)
  if (!r.ok) t.is(r.reason, 'missing')
})

test('run reports exit codes and kills a command past its deadline', async (t) => {
  t.is((await run('true', [])).code, 0)
  t.is((await run('false', [])).code, 1)
  const started = Date.now()
  const slow = await run('sleep', ['30'], 200)
  t.true(slow.timedOut)
  t.true(Date.now() - started < 10_000)
})
