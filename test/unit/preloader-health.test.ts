// /healthz of the preloader answers from a cached check: a flood of probes is at most one node
// Kubo call per window (issue 12, item 15). Pure logic with a counting check, through the real
// status server.
import test from 'ava'
import { cachedCheck } from '../../preloader/cached-check.js'
import { startStatusServer } from '../../preloader/status-server.js'
import { createLogger } from '../../driver/logger.js'
import type { Preloader } from '../../preloader/preloader.js'

test('100 concurrent /healthz requests cost one Kubo check; a stale answer is refreshed once', async (t) => {
  let calls = 0
  let now = 1_000_000
  const check = cachedCheck(async () => { calls++; await new Promise(resolve => setTimeout(resolve, 20)); return true }, 10_000, () => now)
  const server = await startStatusServer({ host: '127.0.0.1', port: 0, preloader: {} as unknown as Preloader, log: createLogger('error'), kuboReachable: check })
  t.teardown(server.close)
  const statuses = await Promise.all(Array.from({ length: 100 }, async () => (await fetch(`${server.url}/healthz`)).status))
  t.deepEqual([...new Set(statuses)], [200])
  t.is(calls, 1)
  for (let i = 0; i < 20; i++) t.is((await fetch(`${server.url}/healthz`)).status, 200)
  t.is(calls, 1, 'still within the window')
  now += 10_001
  await Promise.all(Array.from({ length: 10 }, async () => await fetch(`${server.url}/healthz`)))
  t.is(calls, 2, 'one refresh after the window')
})

test('a failing or throwing check answers 503 and is retried only after the window', async (t) => {
  let calls = 0
  let now = 0
  const check = cachedCheck(async () => { calls++; if (calls === 1) throw new Error('kubo down'); return false }, 5000, () => now)
  t.false(await check())
  t.false(await check())
  t.is(calls, 1)
  now = 5000
  t.false(await check())
  t.is(calls, 2)
})
