import { ConcurrencyLimit } from '../queueing/concurrency-limit.js'
import { OpenDcreError } from '../errors.js'
import type { CallOptions, RedfishClient, RedfishResponse } from './redfish-client.js'
import type { RedfishLimits } from './redfish-config.js'

export { DEFAULT_REDFISH_LIMITS, type RedfishLimits } from './redfish-config.js'

export type Json = Record<string, any>

/**
 * Whether a failed GET was the service refusing what was asked (a 4xx other
 * than 401/429, or 501 Not Implemented), as a service that does not take a
 * query ($expand) answers: asked again without it, and not again with it.
 */
export function refused (err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status
  return typeof status === 'number' && ((status >= 400 && status < 500 && status !== 401 && status !== 429) || status === 501)
}

/** The per-service request bound: one limit shared by every command to that service. */
export function serviceLimit (limits: RedfishLimits): ConcurrencyLimit {
  return new ConcurrencyLimit(limits.concurrency)
}

/**
 * One command against one service: every request it makes waits for the
 * service's concurrency bound, gets at most the time left before the
 * command's deadline, and must answer a JSON object. A failure names the
 * service and the resource.
 */
export class RedfishCommand {
  readonly deadline: number
  private readonly client: RedfishClient
  private readonly limit: ConcurrencyLimit
  private readonly now: () => number
  private readonly what: string
  private readonly timeoutMs: number

  constructor (client: RedfishClient, limit: ConcurrencyLimit, limits: RedfishLimits, what: string, now: () => number = Date.now) {
    this.client = client
    this.limit = limit
    this.now = now
    this.what = what
    this.timeoutMs = limits.commandTimeoutMs
    this.deadline = now() + limits.commandTimeoutMs
  }

  get url (): string {
    return this.client.url
  }

  private left (): number {
    const left = this.deadline - this.now()
    if (left <= 0) throw this.overdue()
    return left
  }

  private overdue (): OpenDcreError {
    return new OpenDcreError('timeout', `${this.client.url}: ${this.what} did not finish within ${this.timeoutMs} ms`)
  }

  async response (path: string, options: CallOptions = {}): Promise<RedfishResponse> {
    try {
      return await this.limit.run(async () => await this.client.get(path, { ...options, timeoutMs: this.left() }), undefined)
    } catch (err) {
      // a call cut short by the command's deadline (not by its own timeout_ms) says so
      if (err instanceof OpenDcreError && err.code === 'timeout' && this.now() >= this.deadline) throw this.overdue()
      throw err
    }
  }

  /** GET of a resource that must be a JSON object. */
  async get (path: string, options: CallOptions = {}): Promise<Json> {
    return object((await this.response(path, options)).body, this.client.url, path)
  }

  async post (path: string, body: unknown): Promise<RedfishResponse> {
    this.left()
    return await this.limit.run(async () => await this.client.post(path, body), undefined)
  }

  async patch (path: string, body: unknown, etag?: string): Promise<RedfishResponse> {
    this.left()
    return await this.limit.run(async () => await this.client.patch(path, body, etag), undefined)
  }

  /** `fn` over `items`; the requests inside are bounded by the service's limit, the whole by the deadline. */
  async each<T, R> (items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
    return await Promise.all(items.map(fn))
  }
}

/** A body that must be a JSON object (a resource), else a device-error naming service and resource. */
export function object (body: unknown, url: string, path: string): Json {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new OpenDcreError('device-error', `${url}: GET ${path}: the answer is not a Redfish resource (a JSON object)`)
  }
  return body as Json
}

export const odataId = (link: unknown): string | undefined => {
  const id = (link as Json | null | undefined)?.['@odata.id']
  return typeof id === 'string' && id.startsWith('/') ? id : undefined
}

/** A collection's members (links or expanded resources), at most `max`. */
export function memberList (body: Json, max: number): Json[] {
  const list: unknown[] = Array.isArray(body.Members) ? body.Members : []
  const out: Json[] = []
  for (const m of list) {
    if (out.length >= max) break
    if (odataId(m) !== undefined) out.push(m as Json)
  }
  return out
}

/** Links of a property that holds an array of links (Links.Chassis, Links.ComputerSystems). */
export function links (value: unknown, max: number): string[] {
  if (!Array.isArray(value)) return []
  const out: string[] = []
  for (const v of value) {
    if (out.length >= max) break
    const id = odataId(v)
    if (id !== undefined) out.push(id)
  }
  return out
}

/** URI order, numbers compared as numbers: the order board slots and device ids follow. */
export const byUri = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true })
