import test from 'ava'
import { capacityFits, contentCapacity, int64Field, parseCapacityRange, writableCapacity } from '../../controller/capacity.js'
import { Code, CsiError } from '../../driver/errors.js'
import { DEFAULTS } from '../../driver/constants.js'

const GiB = 1024 ** 3
const codeOf = (fn: () => unknown): number | undefined => { try { fn(); return undefined } catch (err) { return (err as CsiError).code } }

test('int64 fields: strings, numbers, empty → 0; negative or non-numeric → INVALID_ARGUMENT', (t) => {
  t.is(int64Field('1073741824', 'x'), GiB)
  t.is(int64Field(5, 'x'), 5)
  t.is(int64Field('', 'x'), 0)
  t.is(int64Field(undefined, 'x'), 0)
  t.is(int64Field(null, 'x'), 0)
  t.is(codeOf(() => int64Field('-1', 'x')), Code.INVALID_ARGUMENT)
  t.is(codeOf(() => int64Field('1e9', 'x')), Code.INVALID_ARGUMENT)
  t.is(codeOf(() => int64Field('99999999999999999999', 'x')), Code.OUT_OF_RANGE)
})

test('limit below required is INVALID_ARGUMENT', (t) => {
  t.is(codeOf(() => parseCapacityRange({ required_bytes: '200', limit_bytes: '100' })), Code.INVALID_ARGUMENT)
  t.deepEqual(parseCapacityRange({ required_bytes: '100', limit_bytes: '100' }), { required: 100, limit: 100 })
  t.deepEqual(parseCapacityRange(null), { required: 0, limit: 0 })
  t.deepEqual(parseCapacityRange({ required_bytes: '0', limit_bytes: '0' }), { required: 0, limit: 0 })
})

test('writable capacity: required, else default capped by limit; above the maximum → OUT_OF_RANGE', (t) => {
  t.is(writableCapacity({ required: 5 * GiB, limit: 0 }, GiB), 5 * GiB)
  t.is(writableCapacity({ required: 0, limit: 0 }, GiB), GiB)
  t.is(writableCapacity({ required: 0, limit: 100 * 1024 * 1024 }, GiB), 100 * 1024 * 1024)
  t.is(writableCapacity({ required: 0, limit: 10 * GiB }, GiB), GiB)
  t.is(writableCapacity({ required: DEFAULTS.maxCapacityBytes, limit: 0 }, GiB), DEFAULTS.maxCapacityBytes)
  t.is(codeOf(() => writableCapacity({ required: DEFAULTS.maxCapacityBytes + 1, limit: 0 }, GiB)), Code.OUT_OF_RANGE)
})

test('content capacity: content size, raised to required, never above limit', (t) => {
  t.is(contentCapacity({ required: 0, limit: 0 }, 175), 175)
  t.is(contentCapacity({ required: GiB, limit: 0 }, 175), GiB)
  t.is(contentCapacity({ required: 0, limit: 100 }, 175), 100)
  t.is(contentCapacity({ required: 10, limit: 0 }, 175), 175)
})

test('an existing volume fits a repeated request when its capacity is inside the range', (t) => {
  t.true(capacityFits(GiB, { required: GiB, limit: GiB }))
  t.true(capacityFits(GiB, { required: 0, limit: 0 }))
  t.true(capacityFits(2 * GiB, { required: GiB, limit: 0 }))
  t.false(capacityFits(GiB, { required: 2 * GiB, limit: 2 * GiB }))
  t.false(capacityFits(2 * GiB, { required: 0, limit: GiB }))
})
