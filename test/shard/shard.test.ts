import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bmcKey, describeOwner, ownerOf, parseShard, parseShardUrls, redfishKey, servedBy, shareOf } from '../../config/shard.js'
import { resolveConfig } from '../../config/service-config.js'
import { addressKey } from '../../cli/shard-of.js'
import { ConfigError } from '../../drivers/errors.js'

/** A data center's worth of BMC addresses: 10.R.S.B:623. */
const KEYS = Array.from({ length: 10_000 }, (_v, i) => bmcKey(`10.${(i >> 12) & 255}.${(i >> 6) & 63}.${i & 63}`, 623))

function owners (count: number): number[] {
  return KEYS.map((key) => ownerOf(key, count))
}

t.test('rendezvous hashing spreads the boards evenly over the shards', async (t) => {
  for (const count of [2, 3, 8]) {
    const sizes = new Array<number>(count).fill(0)
    for (const owner of owners(count)) sizes[owner]++
    const share = KEYS.length / count
    for (const [shard, size] of sizes.entries()) {
      // a binomial share: within 6% of even for 10,000 keys (several standard deviations)
      t.ok(Math.abs(size - share) < share * 0.06, `${count} shards: shard ${shard} has ${size} of ${KEYS.length} (even: ${share.toFixed(0)})`)
    }
  }
  t.equal(ownerOf('10.0.0.1:623', 1), 0, 'one shard owns everything')
})

t.test('changing N moves about 1/N of the boards, and only to or from the shard added or removed', async (t) => {
  for (const [from, to] of [[3, 4], [4, 3], [8, 9], [2, 3]]) {
    const before = owners(from)
    const after = owners(to)
    let moved = 0
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === after[i]) continue
      moved++
      const grown = to > from
      // growing: a board moves only to the new shard; shrinking: only the removed shard's boards move
      if (grown ? after[i] !== to - 1 : before[i] !== from - 1) t.fail(`${KEYS[i]} moved from ${before[i]} to ${after[i]} (${from} -> ${to} shards)`)
    }
    const expected = KEYS.length / Math.max(from, to)
    t.ok(Math.abs(moved - expected) < expected * 0.12, `${from} -> ${to} shards moved ${moved} of ${KEYS.length} (1/${Math.max(from, to)}: ${expected.toFixed(0)})`)
  }
})

t.test('a shard takes its share, and each keeps its place in the whole file', async (t) => {
  const entries = KEYS.slice(0, 300)
  const shares = [0, 1, 2].map((index) => shareOf(entries, (e) => e, { index, count: 3 }))
  const slots = shares.flatMap((s) => s.slots).sort((a, b) => a - b)
  t.same(slots, entries.map((_e, i) => i), 'every entry is owned by exactly one shard')
  for (const [index, share] of shares.entries()) {
    share.slots.forEach((slot, i) => {
      if (share.mine[i] !== entries[slot]) t.fail(`shard ${index}: entry ${i} is not slot ${slot}'s`)
      if (share.owners[slot] !== index) t.fail(`shard ${index} holds slot ${slot} owned by ${share.owners[slot]}`)
    })
  }
  const all = shareOf(entries, (e) => e, undefined)
  t.equal(all.mine.length, 300, 'no shard: every entry')
  const shard = { index: 1, count: 3, urls: ['http://a:5000', 'http://b:5000', 'http://c:5000'] }
  const served = servedBy(shares[1].owners, shard, (id) => id - 1)
  const foreign = shares[1].owners.findIndex((o) => o !== 1)
  t.equal(served(foreign + 1), describeOwner(shares[1].owners[foreign], shard), 'another shard\'s board names its owner')
  t.match(served(foreign + 1), /^shard [02]\/3 \(http:\/\/[ac]:5000\)$/)
  t.equal(served(shares[1].slots[0] + 1), undefined, 'its own board is not elsewhere')
  t.equal(served(100_000), undefined, 'a board beyond the file is no shard\'s')
})

t.test('the shard from its text, or the index from a StatefulSet host name', async (t) => {
  t.same(parseShard('2/3', 'anything'), { index: 2, count: 3 })
  t.same(parseShard('4', 'opendcre-3'), { index: 3, count: 4 })
  t.same(parseShard('4', 'opendcre-0.opendcre.dc.svc.cluster.local'), { index: 0, count: 4 })
  t.throws(() => parseShard('3/3', 'h'), /shard 3 does not exist among 3/)
  t.throws(() => parseShard('4', 'opendcre'), /host name 'opendcre' has none/)
  t.throws(() => parseShard('4', 'opendcre-7'), /shard 7 does not exist among 4/)
  t.throws(() => parseShard('one/3', 'h'), /is not i\/N/)
  t.throws(() => parseShard('0/0', 'h'), /from 1 to 1024/)
  t.same(parseShardUrls(['http://a:1/', 'https://b'], 2), ['http://a:1', 'https://b'])
  t.throws(() => parseShardUrls(['http://a:1'], 2), /gives 1 URLs for 2 shards/)
  t.throws(() => parseShardUrls(['a:1', 'http://b'], 2), /is not an http/)
})

t.test('shard and shard_urls from the config file, flags over the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shard-'))
  const file = join(dir, 'opendcre_config.json')
  writeFileSync(file, JSON.stringify({ shard: '3', shard_urls: ['http://s0:5000', 'http://s1:5000', 'http://s2:5000'] }))
  t.same(resolveConfig({ config: file, hostname: 'opendcre-1' }).shard, { index: 1, count: 3, urls: ['http://s0:5000', 'http://s1:5000', 'http://s2:5000'] })
  t.same(resolveConfig({ config: file, shard: '2/3' }).shard?.index, 2, '--shard wins over the file')
  t.equal(resolveConfig({}).shard, undefined, 'no shard: every board')
  t.throws(() => resolveConfig({ config: file, hostname: 'opendcre' }), ConfigError)
  writeFileSync(file, JSON.stringify({ shard: 'half' }))
  t.throws(() => resolveConfig({ config: file }), /shard: must be 'i\/N'/)
  writeFileSync(file, JSON.stringify({ shard: '0/2', shard_urls: ['http://one'] }))
  t.throws(() => resolveConfig({ config: file }), /shard_urls: gives 1 URLs for 2 shards/)
  t.throws(() => resolveConfig({ shardUrls: ['http://x'] }), /no shard is set/)
})

t.test('shard-of hashes an address as the buses do', async (t) => {
  t.equal(addressKey('10.0.0.7'), '10.0.0.7:623', 'IPMI\'s port by default')
  t.equal(addressKey('10.0.0.7:6230'), '10.0.0.7:6230')
  t.equal(addressKey('[fd00::7]:6230'), 'fd00::7:6230')
  t.equal(addressKey('https://BMC-7.example:8443'), redfishKey('https://bmc-7.example:8443'))
  t.throws(() => addressKey('a:b:c'), /is not host\[:port\]/)
})
