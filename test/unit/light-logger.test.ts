import test from 'ava'
import { createLightLogger } from '../../driver/light-logger.js'

/** A logger whose lines land in `raw`; `lines()` parses them. */
function capture (level: string): { raw: string[], lines: () => Array<Record<string, unknown>>, log: ReturnType<typeof createLightLogger> } {
  const raw: string[] = []
  const log = createLightLogger(level, 'fuse-server', (line) => { raw.push(line) })
  return { raw, lines: () => raw.map(l => JSON.parse(l) as Record<string, unknown>), log }
}

test('light logger writes one JSON line per call with level, message, timestamp and the fields', (t) => {
  const { raw, lines, log } = capture('info')
  log.info('mounted', { mountpoint: '/m', mode: 'content' })
  t.is(raw.length, 1)
  t.true(raw[0]!.endsWith('\n'))
  t.is(raw[0]!.trim().split('\n').length, 1)
  const l = lines()[0]!
  t.is(l.level, 'info')
  t.is(l.message, 'mounted')
  t.is(l.component, 'fuse-server')
  t.is(l.mountpoint, '/m')
  t.false(Number.isNaN(Date.parse(String(l.timestamp))))
  // Keys sorted, like winston's json format.
  const keys = Object.keys(l)
  t.deepEqual(keys, [...keys].sort())
})

test('light logger drops levels below its own and keeps child fields', (t) => {
  const { raw, lines, log } = capture('warn')
  const child = log.child({ volumeId: 'vol-1' })
  child.info('not logged')
  child.debug('not logged')
  child.warn('slow read', { ms: 5 })
  child.error(new Error('boom'))
  t.is(raw.length, 2)
  t.is(lines()[0]!.volumeId, 'vol-1')
  t.is(lines()[0]!.ms, 5)
  t.is(lines()[1]!.level, 'error')
  t.is(lines()[1]!.message, 'boom')
  t.true(log.isLevelEnabled('error'))
  t.false(log.isLevelEnabled('info'))
})

test('light logger never writes a secret', (t) => {
  const { raw, lines, log } = capture('debug')
  log.debug('request', { request: { name: 'pvc-1', secrets: { token: 's3cr3t' } }, authorization: 'Bearer s3cr3t', kuboApiTokenFile: '/etc/tok' })
  t.is(raw.length, 1)
  t.false(raw[0]!.includes('s3cr3t'))
  t.true(raw[0]!.includes('pvc-1'))
  t.is(lines()[0]!.authorization, '***')
})

test('a field JSON cannot carry costs the fields, not the line', (t) => {
  const { raw, lines, log } = capture('info')
  const loop: Record<string, unknown> = {}
  loop.self = loop
  log.info('odd', { n: 10n, loop })
  t.is(raw.length, 1)
  t.is(lines()[0]!.message, 'odd')
  t.is(typeof lines()[0]!.logError, 'string')
})
