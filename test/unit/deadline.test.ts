import test from 'ava'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { deadline } from '../../driver/deadline.js'
import { Kubo } from '../../driver/kubo.js'
import { Code, CsiError } from '../../driver/errors.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Collects garbage every 20 ms until `p` settles, or gives up after `boundMs` (the test's bound). */
async function underGc<T> (p: Promise<T>, boundMs: number): Promise<T | 'hung'> {
  const iv = setInterval(() => { gc(); for (let i = 0; i < 1e4; i++) void new Array(64) }, 20)
  let bound: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<'hung'>((resolve) => { bound = setTimeout(() => resolve('hung'), boundMs) })])
  } finally {
    clearInterval(iv)
    clearTimeout(bound)
  }
}

test('a deadline combined with a caller signal fires even when garbage is collected while waiting', async (t) => {
  const caller = new AbortController()
  const d = deadline(200, caller.signal)
  const fired = new Promise<string>((resolve) => d.signal.addEventListener('abort', () => resolve((d.signal.reason as Error).name)))
  t.is(await underGc(fired, 5000), 'TimeoutError')
})

test('a deadline aborts with the caller\'s reason when the caller aborts first, and clear stops it', async (t) => {
  const caller = new AbortController()
  const d = deadline(60_000, caller.signal)
  caller.abort(new Error('caller gave up'))
  t.true(d.signal.aborted)
  t.is((d.signal.reason as Error).message, 'caller gave up')
  const e = deadline(50)
  e.clear()
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.false(e.signal.aborted)
  const already = deadline(60_000, AbortSignal.abort(new Error('before')))
  t.is((already.signal.reason as Error).message, 'before')
})

test('a Kubo call to a server that never answers ends with DEADLINE_EXCEEDED even under garbage collection', async (t) => {
  const held: http.ServerResponse[] = []
  const server = http.createServer((_req, res) => { held.push(res) }) // never answers
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const r of held) r.destroy(); server.closeAllConnections(); server.close() })
  const port = (server.address() as AddressInfo).port
  const kubo = new Kubo({ url: `http://127.0.0.1:${port}`, timeoutMs: 300 })
  const outcome = await underGc(kubo.post('id', {}, new AbortController().signal).then(() => 'answered', (err: unknown) => err), 10_000)
  t.true(outcome instanceof CsiError, `the call ${outcome === 'hung' ? 'was still waiting after 10 s' : 'ended otherwise'}`)
  t.is((outcome as CsiError).code, Code.DEADLINE_EXCEEDED)
})
