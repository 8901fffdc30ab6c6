import test from 'ava'
import { decodePageToken, encodePageToken, paginate } from '../../controller/page-token.js'
import { Code, type CsiError } from '../../driver/errors.js'

const ids = ['w-c', 'c-a', 'w-b', 'c-d', 'w-e']

test('tokens round-trip and are opaque strings', (t) => {
  const tok = encodePageToken('w-b')
  t.regex(tok, /^[A-Za-z0-9_-]+$/)
  t.is(decodePageToken(tok), 'w-b')
  t.is(decodePageToken(''), undefined)
  t.is(decodePageToken(undefined), undefined)
})

test('tokens we did not issue are ABORTED', (t) => {
  for (const bad of ['invalid-token', 'abc', '!!!', Buffer.from('{"v":2,"after":"x"}').toString('base64url'), Buffer.from('{"v":1,"after":""}').toString('base64url'), 'x'.repeat(3000)]) {
    const err = t.throws(() => decodePageToken(bad)) as CsiError
    t.is(err.code, Code.ABORTED, bad.slice(0, 30))
  }
})

test('pages walk every id once, sorted, with next_token only when more remain', (t) => {
  const seen: string[] = []
  let token = ''
  let pages = 0
  do {
    const page = paginate(ids, x => x, token, 2)
    t.true(page.items.length <= 2)
    seen.push(...page.items)
    token = page.nextToken
    pages++
  } while (token !== '' && pages < 10)
  t.deepEqual(seen, [...ids].sort())
  t.is(pages, 3)
})

test('max_entries 0 returns everything; negative is INVALID_ARGUMENT', (t) => {
  const all = paginate(ids, x => x, '', 0)
  t.is(all.items.length, ids.length)
  t.is(all.nextToken, '')
  const err = t.throws(() => paginate(ids, x => x, '', -1)) as CsiError
  t.is(err.code, Code.INVALID_ARGUMENT)
})

test('a token stays valid when its entry is deleted and sees entries added after it', (t) => {
  const first = paginate(ids, x => x, '', 2) // c-a, c-d
  t.deepEqual(first.items, ['c-a', 'c-d'])
  const later = ['c-a', 'w-b', 'w-c', 'w-e', 'x-new'] // c-d deleted, x-new added
  const second = paginate(later, x => x, first.nextToken, 10)
  t.deepEqual(second.items, ['w-b', 'w-c', 'w-e', 'x-new'])
  t.is(second.nextToken, '')
})
