// What a FUSE server counts on its hot path: plain numbers and a fixed-bucket histogram, no
// metrics library and no label lookups per 128 KiB read. They become Prometheus metrics only
// when scraped (fuse-metrics.ts), so a FUSE server that is never scraped pays nearly nothing.
import { Code, CsiError, FsError } from '../../driver/errors.js'

/** Read latency bounds in seconds: cached reads take microseconds, a cold block over bitswap seconds. */
export const READ_LATENCY_BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const

/** Cumulative-free histogram: counts[i] holds observations in (bounds[i-1], bounds[i]], the last one the overflow. */
export class LatencyHistogram {
  readonly counts: Float64Array
  sum = 0
  count = 0
  constructor (readonly bounds: readonly number[] = READ_LATENCY_BOUNDS) {
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe (seconds: number): void {
    const b = this.bounds
    let i = 0
    while (i < b.length && seconds > (b[i] as number)) i++
    ;(this.counts as unknown as number[])[i]++
    this.sum += seconds
    this.count++
  }
}

/** Why a FUSE operation answered EIO; a bounded label set. */
export const EIO_CAUSES = ['timeout', 'deadline', 'unavailable', 'verification', 'internal'] as const
export type EioCause = typeof EIO_CAUSES[number]

/** The cause of an error that is answered EIO (see toErrno): `timeout` is the op's own backstop. */
export function eioCause (err: unknown): EioCause {
  if (err instanceof FsError) return 'internal'
  if (err instanceof CsiError) {
    if (err.code === Code.DEADLINE_EXCEEDED) return 'deadline'
    if (err.code === Code.UNAVAILABLE) return 'unavailable'
    if (err.code === Code.DATA_LOSS) return 'verification'
  }
  return 'internal'
}

export class FuseOpStats {
  reads = 0
  readBytes = 0
  writes = 0
  writeBytes = 0
  readonly readLatency = new LatencyHistogram()
  readonly eio: Record<EioCause, number> = { timeout: 0, deadline: 0, unavailable: 0, verification: 0, internal: 0 }
  /** Operations refused with another errno (ENOENT, EROFS...): normal, but a sudden rise says something. */
  otherErrors = 0
}
