// Pagination for ListVolumes / ListSnapshots. Entries are sorted by id; the token names the last
// id returned, so a page boundary survives entries being added or deleted between calls.
import { CsiError, Code, invalid } from '../driver/errors.js'

const VERSION = 1

export function encodePageToken (lastId: string): string {
  return Buffer.from(JSON.stringify({ v: VERSION, after: lastId }), 'utf8').toString('base64url')
}

/** '' → start from the beginning; anything we did not make → ABORTED (CSI spec). */
export function decodePageToken (token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(token) || token.length > 2048) throw new Error('bad characters')
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: unknown, after?: unknown }
    if (parsed?.v !== VERSION || typeof parsed.after !== 'string' || parsed.after === '') throw new Error('bad shape')
    return parsed.after
  } catch {
    throw new CsiError(Code.ABORTED, `starting_token ${JSON.stringify(token.slice(0, 80))} is not a token this plugin issued`)
  }
}

export interface Page<T> {
  items: T[]
  nextToken: string
}

/** One page of `items` (each with an id), sorted by id, after the token's id. */
export function paginate<T> (items: T[], idOf: (item: T) => string, startingToken: string | undefined, maxEntries: number | undefined): Page<T> {
  const max = maxEntries ?? 0
  if (!Number.isInteger(max) || max < 0) throw invalid(`max_entries must not be negative (got ${max})`)
  const after = decodePageToken(startingToken)
  const sorted = [...items].sort((a, b) => idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0)
  const rest = after === undefined ? sorted : sorted.filter(x => idOf(x) > after)
  if (max === 0 || rest.length <= max) return { items: rest, nextToken: '' }
  const items2 = rest.slice(0, max)
  return { items: items2, nextToken: encodePageToken(idOf(items2[items2.length - 1] as T)) }
}
