import test from 'ava'
import { Writable } from 'node:stream'
import winston from 'winston'
import { createLogger } from '../../driver/logger.js'
import { redact } from '../../driver/redact.js'

test('redact masks secret fields at any depth and keeps the rest', (t) => {
  const out = redact({ volume_id: 'v', secrets: { password: 'hunter2' }, nested: { kubo_api_token: 'abc', list: [{ authorization: 'Bearer x' }] } }) as any
  t.is(out.volume_id, 'v')
  t.is(out.secrets, '***')
  t.is(out.nested.kubo_api_token, '***')
  t.is(out.nested.list[0].authorization, '***')
  t.false(JSON.stringify(out).includes('hunter2'))
})

test('log lines never carry secrets', (t) => {
  const lines: string[] = []
  const log = createLogger('debug')
  log.clear()
  log.add(new winston.transports.Stream({ stream: new Writable({ write (c, _e, cb) { lines.push(String(c)); cb() } }) }))
  log.info('request', { request: { name: 'pvc-1', secrets: { token: 's3cr3t' } }, authorization: 'Bearer s3cr3t' })
  t.is(lines.length, 1)
  t.false(lines[0]!.includes('s3cr3t'))
  t.true(lines[0]!.includes('pvc-1'))
})
