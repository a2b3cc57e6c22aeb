/**
 * The data center's boards from a Prometheus-compatible query API
 * (fleet_query_url: Prometheus itself, or VictoriaMetrics that Prometheus
 * remote-writes to; deploy/datacenter/): every shard's boards, each with its
 * state, hottest temperature, power and when it was last seen, and the
 * instance that owns it. Asked server-side, so the dashboard needs no
 * cross-origin access; every query is bounded in time and size.
 */

export interface FleetBoard {
  board_id: string
  backend: string
  /** The instance label Prometheus gave the shard that owns the board (host:port). */
  instance: string
  /** That shard's base URL: its entry of shard_urls, else http://instance. */
  url: string
  up: boolean
  /** The hottest temperature sensor's value (°C), null without one. */
  temperature_c: number | null
  /** The board's power sensors summed (W), null without one. */
  power_w: number | null
  /** When the board last gave a reading (ISO 8601), null when unknown. */
  last_seen: string | null
}

export interface FleetQueryOptions {
  /** The query API's base URL (…/api/v1/query is appended). */
  url: string
  /** The shards' URLs (config shard_urls): a board's link goes to its owner's. */
  shardUrls?: readonly string[]
  /** Per query (default 5000 ms). */
  timeoutMs?: number
  /** The largest answer read (default 32 MB); a longer one is refused. */
  maxBytes?: number
  /** Tests inject their own. */
  fetch?: typeof fetch
}

/** Why the data center's query API could not answer: the route's 502. */
export class FleetQueryError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FleetQueryError'
  }
}

type Vector = Array<{ metric: Record<string, string>, value: [number, string] }>

const QUERIES = {
  up: 'opendcre_board_up',
  temperature: 'max by (instance, board_id) (opendcre_temperature_celsius)',
  power: 'sum by (instance, board_id) (opendcre_power_watts)',
  age: 'min by (instance, board_id) (opendcre_reading_age_seconds)'
} as const

export class FleetQuery {
  private readonly base: string
  private readonly timeoutMs: number
  private readonly maxBytes: number
  private readonly fetch: typeof fetch
  private readonly byInstance = new Map<string, string>()

  constructor (private readonly options: FleetQueryOptions) {
    this.base = options.url.replace(/\/+$/, '')
    this.timeoutMs = options.timeoutMs ?? 5000
    this.maxBytes = options.maxBytes ?? 32 * 1024 * 1024
    this.fetch = options.fetch ?? fetch
    for (const url of options.shardUrls ?? []) {
      try {
        this.byInstance.set(new URL(url).host, url)
      } catch { /* checked when the config was read */ }
    }
  }

  /** Every board the query API knows, sorted by board id then instance. */
  async boards (): Promise<{ boards: FleetBoard[], at: number }> {
    const [up, temperature, power, age] = await Promise.all([QUERIES.up, QUERIES.temperature, QUERIES.power, QUERIES.age].map(async (q) => await this.query(q)))
    const at = Date.now()
    const key = (m: Record<string, string>): string => `${m.instance ?? ''}\0${m.board_id ?? ''}`
    const valueOf = (vector: Vector): Map<string, { value: number, at: number }> =>
      new Map(vector.map((s) => [key(s.metric), { value: Number(s.value[1]), at: s.value[0] * 1000 }]))
    const temperatures = valueOf(temperature)
    const powers = valueOf(power)
    const ages = valueOf(age)
    const boards = up.map((s): FleetBoard => {
      const k = key(s.metric)
      const instance = s.metric.instance ?? ''
      const seen = ages.get(k)
      return {
        board_id: s.metric.board_id ?? '',
        backend: s.metric.backend ?? '',
        instance,
        url: this.byInstance.get(instance) ?? `http://${instance}`,
        up: Number(s.value[1]) === 1,
        temperature_c: finite(temperatures.get(k)?.value),
        power_w: finite(powers.get(k)?.value),
        last_seen: seen === undefined || !Number.isFinite(seen.value) ? null : new Date(seen.at - seen.value * 1000).toISOString()
      }
    })
    boards.sort((a, b) => (a.board_id === b.board_id ? a.instance.localeCompare(b.instance) : a.board_id.localeCompare(b.board_id)))
    return { boards, at }
  }

  private async query (promql: string): Promise<Vector> {
    const url = `${this.base}/api/v1/query?query=${encodeURIComponent(promql)}`
    let res: Response
    try {
      res = await this.fetch(url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json' } })
    } catch (err) {
      throw new FleetQueryError(`the fleet query URL did not answer within ${this.timeoutMs} ms: ${(err as Error).message}`, { cause: err })
    }
    const text = await readBounded(res, this.maxBytes)
    let body: { status?: string, error?: string, data?: { resultType?: string, result?: Vector } }
    try {
      body = JSON.parse(text)
    } catch {
      throw new FleetQueryError(`the fleet query URL answered ${res.status} with no JSON`)
    }
    if (body.status !== 'success' || body.data?.resultType !== 'vector' || !Array.isArray(body.data.result)) {
      throw new FleetQueryError(`the fleet query URL refused ${promql}: ${res.status} ${body.error ?? body.status ?? ''}`.trim())
    }
    return body.data.result
  }
}

function finite (value: number | undefined): number | null {
  return value === undefined || !Number.isFinite(value) ? null : value
}

async function readBounded (res: Response, maxBytes: number): Promise<string> {
  if (res.body === null) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength
    if (size > maxBytes) {
      await res.body.cancel().catch(() => {})
      throw new FleetQueryError(`the fleet query URL's answer is over ${maxBytes} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
