/**
 * Shards over one inventory (docs/monitoring.md, "Deploy a data center"): N
 * instances are given the same bmc_config.json and redfish_config.json, and
 * each polls and serves only its share. A board's owner is chosen by
 * rendezvous (highest random weight) hashing on its address (a BMC's
 * host:port, a Redfish service's URL): every shard computes the same owner
 * with no coordination, and changing N moves only about 1/N of the boards
 * (those whose highest weight is the shard added or removed).
 */
import { createHash } from 'node:crypto'
import { ConfigError } from '../drivers/errors.js'

/** This instance's shard: index in 0..count-1, and the owners' URLs when known (one per shard). */
export interface ShardSettings {
  index: number
  count: number
  /** Each shard's base URL (http://host:port), in shard order: a misdirected request names its owner's. */
  urls?: readonly string[]
}

/** The weight of shard `shard` for `key`: the first 48 bits of SHA-256(key, shard). */
function weight (key: string, shard: number): number {
  return createHash('sha256').update(key).update('\0').update(String(shard)).digest().readUIntBE(0, 6)
}

/** The shard (0..count-1) that owns `key`: the one with the highest weight (ties: the lowest index). */
export function ownerOf (key: string, count: number): number {
  let best = 0
  let bestWeight = -1
  for (let shard = 0; shard < count; shard++) {
    const w = weight(key, shard)
    if (w > bestWeight) {
      best = shard
      bestWeight = w
    }
  }
  return best
}

/** A BMC's key: host:port as bmc_config.json gives them. */
export function bmcKey (host: string, port: number): string {
  return `${host}:${port}`
}

/** A Redfish service's key: its URL, normalised (scheme and host lower case, default port dropped). */
export function redfishKey (url: string): string {
  try {
    return new URL(url).href
  } catch {
    return url
  }
}

/**
 * The shard from its text: 'i/N' (this is shard i of N), or 'N' (N shards,
 * this one's index the ordinal at the end of the host name, as a Kubernetes
 * StatefulSet names its pods: opendcre-3 is shard 3).
 */
export function parseShard (text: string, hostname: string, where = 'command line', field = 'shard'): ShardSettings {
  const both = /^(\d+)\/(\d+)$/.exec(text.trim())
  const countOnly = /^(\d+)$/.exec(text.trim())
  if (both === null && countOnly === null) throw new ConfigError(where, field, `'${text}' is not i/N (this shard of N) or N (the index from the host name)`)
  const count = Number(both !== null ? both[2] : countOnly?.[1])
  if (count < 1 || count > 1024) throw new ConfigError(where, field, `the number of shards must be from 1 to 1024, not ${count}`)
  let index: number
  if (both !== null) {
    index = Number(both[1])
  } else {
    const ordinal = /-(\d+)$/.exec(hostname.split('.')[0])
    if (ordinal === null) throw new ConfigError(where, field, `'${text}' takes the shard's index from the host name's ordinal (name-3), but the host name '${hostname}' has none`)
    index = Number(ordinal[1])
  }
  if (index >= count) throw new ConfigError(where, field, `shard ${index} does not exist among ${count} (0 to ${count - 1})`)
  return { index, count }
}

/** The owners' URLs: one per shard, each http(s)://, without a trailing slash. */
export function parseShardUrls (urls: readonly string[], count: number, where = 'command line', field = 'shard_urls'): string[] {
  if (urls.length !== count) throw new ConfigError(where, field, `gives ${urls.length} URLs for ${count} shards: one per shard, in shard order`)
  return urls.map((url) => {
    if (!/^https?:\/\/[^/\s]+/i.test(url)) throw new ConfigError(where, field, `'${url}' is not an http:// or https:// URL`)
    return url.replace(/\/+$/, '')
  })
}

/** The entries (with their place in the whole file) that a shard owns; with no shard, all of them. */
export function shareOf<T> (entries: readonly T[], keyOf: (entry: T) => string, shard: ShardSettings | undefined): { mine: T[], slots: number[], owners: number[] } {
  const owners = entries.map((entry) => (shard === undefined ? 0 : ownerOf(keyOf(entry), shard.count)))
  const mine: T[] = []
  const slots: number[] = []
  owners.forEach((owner, slot) => {
    if (shard === undefined || owner === shard.index) {
      mine.push(entries[slot])
      slots.push(slot)
    }
  })
  return { mine, slots, owners }
}

/** How a misdirected request names its owner: 'shard 2/3 (http://...)' or 'shard 2/3'. */
export function describeOwner (owner: number, shard: ShardSettings): string {
  const url = shard.urls?.[owner]
  return `shard ${owner}/${shard.count}${url !== undefined ? ` (${url})` : ''}`
}

/**
 * The registry's question for a sharded backend (plugins/bus-registry.ts
 * servedElsewhere): which other shard serves this board id, if any.
 * `slotOf` gives the board's place in the whole file (-1: not this backend's).
 */
export function servedBy (owners: readonly number[], shard: ShardSettings, slotOf: (boardId: number) => number): (boardId: number) => string | undefined {
  return (boardId) => {
    const owner = owners[slotOf(boardId)]
    return owner === undefined || owner === shard.index ? undefined : describeOwner(owner, shard)
  }
}
