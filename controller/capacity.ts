// Capacity rules for CreateVolume / ControllerExpandVolume. Pure: no Kubo, no grpc.
import { DEFAULTS } from '../driver/constants.js'
import { CsiError, Code, invalid } from '../driver/errors.js'

export interface CapacityRangeInput {
  required_bytes?: string | number | null
  limit_bytes?: string | number | null
}

export interface CapacityBounds {
  /** 0 when not given. */
  required: number
  /** 0 when not given (no limit). */
  limit: number
}

/** Reads an int64 field (a string from proto-loader, sometimes a number); negative or huge → INVALID_ARGUMENT. */
export function int64Field (raw: unknown, what: string): number {
  if (raw === undefined || raw === null || raw === '') return 0
  const s = String(raw)
  if (!/^-?\d+$/.test(s)) throw invalid(`${what} ${JSON.stringify(s)} is not an integer`)
  const n = Number(s)
  if (n < 0) throw invalid(`${what} must not be negative (got ${s})`)
  if (!Number.isSafeInteger(n)) throw new CsiError(Code.OUT_OF_RANGE, `${what} ${s} is too large`)
  return n
}

/** Validates a capacity range: limit below required is INVALID_ARGUMENT (CSI spec). */
export function parseCapacityRange (range: CapacityRangeInput | null | undefined): CapacityBounds {
  const required = int64Field(range?.required_bytes, 'capacity_range.required_bytes')
  const limit = int64Field(range?.limit_bytes, 'capacity_range.limit_bytes')
  if (limit > 0 && required > limit) throw invalid(`capacity_range.limit_bytes (${limit}) is smaller than required_bytes (${required})`)
  return { required, limit }
}

/**
 * Capacity of a new writable volume: required_bytes, else the default (capped by limit_bytes).
 * Above DEFAULTS.maxCapacityBytes → OUT_OF_RANGE.
 */
export function writableCapacity (bounds: CapacityBounds, defaultBytes: number, maxBytes: number = DEFAULTS.maxCapacityBytes): number {
  let cap = bounds.required > 0 ? bounds.required : defaultBytes
  if (bounds.required === 0 && bounds.limit > 0 && cap > bounds.limit) cap = bounds.limit
  if (cap > maxBytes) throw new CsiError(Code.OUT_OF_RANGE, `requested capacity ${cap} is above the largest supported volume (${maxBytes} bytes)`)
  if (cap <= 0) throw invalid('capacity must be positive')
  return cap
}

/**
 * Reported capacity of a read-only content volume: its content size, raised to required_bytes so
 * a CO that asked for a nominal size (every PVC does) gets a volume "at least that big", and never
 * above limit_bytes.
 */
export function contentCapacity (bounds: CapacityBounds, contentSize: number): number {
  let cap = Math.max(contentSize, bounds.required)
  if (bounds.limit > 0 && cap > bounds.limit) cap = bounds.limit
  return cap
}

/** An existing volume of `capacity` satisfies a repeated request with these bounds. */
export function capacityFits (capacity: number, bounds: CapacityBounds): boolean {
  return capacity >= bounds.required && (bounds.limit === 0 || capacity <= bounds.limit)
}
