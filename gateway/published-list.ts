// The published list (a ConfigMap key, a file): one CID per line, `#` comments, blank lines.
// Every line is validated; one bad line rejects the whole list, so a typo can never make a sync
// unpublish everything.
import type { CID } from 'multiformats/cid'
import { parseCid } from '../driver/content-ref.js'
import { invalid } from '../driver/errors.js'

export const MAX_PUBLISHED = 100_000

export function parsePublishedList (text: string): CID[] {
  const out = new Map<string, CID>()
  const problems: string[] = []
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim()
    if (line === '') return
    try {
      const cid = parseCid(line)
      out.set(cid.toV1().toString(), cid)
    } catch (err) { problems.push(`line ${i + 1}: ${(err as Error).message}`) }
  })
  if (problems.length > 0) throw invalid(`published list: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? ` (and ${problems.length - 10} more)` : ''}`)
  if (out.size > MAX_PUBLISHED) throw invalid(`published list has ${out.size} CIDs, more than ${MAX_PUBLISHED}`)
  return [...out.values()]
}
