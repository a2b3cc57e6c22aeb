import { parseCommandArgs } from './command-args.js'
import { resolveConfig } from '../config/service-config.js'
import { bmcKey, describeOwner, ownerOf, redfishKey, type ShardSettings } from '../config/shard.js'

/** The key a BMC or Redfish address is hashed on: a URL as given, host[:port] as host:port (IPMI's port 623 by default). */
export function addressKey (address: string): string {
  if (/^https?:\/\//i.test(address)) return redfishKey(address)
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(address)
  if (bracketed !== null) return bmcKey(bracketed[1], Number(bracketed[2] ?? 623))
  const hostPort = /^([^:]+)(?::(\d+))?$/.exec(address)
  if (hostPort === null) throw new Error(`'${address}' is not host[:port] (a BMC) or an http(s):// URL (a Redfish service)`)
  return bmcKey(hostPort[1], Number(hostPort[2] ?? 623))
}

/**
 * `opendcre shard-of ADDRESS... (--shards N | --config FILE) [--shard-url URL]...`:
 * which shard owns each BMC (host[:port]) or Redfish service (URL), one line each.
 */
export function shardOf (args: string[], fail: (message: string) => never, usage: string): void {
  const { values, positionals } = parseCommandArgs(args, {
    shards: { type: 'string' },
    config: { type: 'string' },
    'shard-url': { type: 'string', multiple: true }
  }, usage, fail)
  if (positionals.length === 0) fail('usage: opendcre shard-of ADDRESS... (--shards N | --config FILE) [--shard-url URL]...')
  let shard: ShardSettings | undefined
  try {
    if (values.shards !== undefined) {
      // only the count matters here: any index will do
      shard = resolveConfig({ shard: `0/${values.shards}`, shardUrls: values['shard-url'] }).shard
    } else if (values.config !== undefined) {
      shard = resolveConfig({ config: values.config, shardUrls: values['shard-url'], hostname: 'shard-of-0' }).shard
    }
  } catch (err) {
    fail((err as Error).message)
  }
  if (shard === undefined) fail('shard-of: give the number of shards (--shards N) or an opendcre_config.json with a shard key (--config FILE)')
  for (const address of positionals) {
    let key: string
    try {
      key = addressKey(address)
    } catch (err) {
      fail((err as Error).message)
    }
    process.stdout.write(`${address}\t${describeOwner(ownerOf(key, shard.count), shard)}\n`)
  }
}
