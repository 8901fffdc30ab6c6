import test from 'ava'
import { RwGate } from '../../node-plugin/fuse/writable/rw-gate.js'

const tick = async (ms = 5): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

test('reads run together; a mutation never overlaps a read or another mutation', async (t) => {
  const gate = new RwGate()
  let readers = 0
  let writers = 0
  let maxReaders = 0
  const violations: string[] = []
  const read = async (): Promise<void> => await gate.shared(async () => {
    readers++
    maxReaders = Math.max(maxReaders, readers)
    if (writers > 0) violations.push('read during mutation')
    await tick()
    readers--
  })
  const mutate = async (): Promise<void> => await gate.exclusive(async () => {
    writers++
    if (writers > 1) violations.push('two mutations')
    if (readers > 0) violations.push('mutation during read')
    await tick()
    writers--
  })
  const all: Array<Promise<void>> = []
  for (let i = 0; i < 40; i++) all.push(i % 4 === 0 ? mutate() : read())
  await Promise.all(all)
  t.deepEqual(violations, [])
  t.true(maxReaders > 1, 'reads overlap')
})

test('a queued mutation is not starved by a stream of reads', async (t) => {
  const gate = new RwGate()
  const order: string[] = []
  const r1 = gate.shared(async () => { await tick(20); order.push('r1') })
  const m = gate.exclusive(async () => { order.push('m') })
  await tick(1)
  const r2 = gate.shared(async () => { order.push('r2') })
  await Promise.all([r1, m, r2])
  t.deepEqual(order, ['r1', 'm', 'r2'])
})

test('mutations run in submission order and a failing one does not block the next', async (t) => {
  const gate = new RwGate()
  const order: number[] = []
  const a = gate.exclusive(async () => { await tick(10); order.push(1); throw new Error('boom') })
  const b = gate.exclusive(async () => { order.push(2) })
  await t.throwsAsync(a, { message: 'boom' })
  await b
  t.deepEqual(order, [1, 2])
  await gate.idle()
  t.is(gate.pendingMutations, 0)
})
