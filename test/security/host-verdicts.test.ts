import t from 'tap'
import { build, PREFIX } from '../helper.js'

t.test('the Host check answers the same for a Host however often it comes, past its cache of verdicts, long values included', async (t) => {
  const app = await build(t)
  const status = async (host: string): Promise<number> => (await app.inject({ url: `${PREFIX}/test`, headers: { host } })).statusCode
  for (let round = 0; round < 3; round++) {
    t.equal(await status('localhost:5000'), 200, `round ${round}: localhost`)
    t.equal(await status('attacker.example'), 421, `round ${round}: attacker.example`)
    // more distinct hostile values than the cache keeps, some longer than any host name
    const hostile = Array.from({ length: 150 }, (_, i) => i % 3 === 0 ? `${'a'.repeat(300)}${i}.example` : `h${i}.attacker.example`)
    const refused = await Promise.all(hostile.map(status))
    t.ok(refused.every((code) => code === 421), `round ${round}: ${hostile.length} foreign Hosts refused`)
    t.equal(await status('127.0.0.1'), 200, `round ${round}: 127.0.0.1 after them`)
    t.equal(await status(`${'a'.repeat(300)}0.example`), 421, `round ${round}: a long foreign Host again`)
  }
})

t.test('a cross-site state change is refused; a cross-site read and a plain state change are not', async (t) => {
  const app = await build(t)
  const crossSite = { 'sec-fetch-site': 'cross-site' }
  t.equal((await app.inject({ url: `${PREFIX}/led/00000001/0005/on`, headers: crossSite })).statusCode, 403, 'cross-site led on')
  t.equal((await app.inject({ url: `${PREFIX}/led/00000001/0005/on`, headers: { origin: 'https://attacker.example' } })).statusCode, 403, 'foreign Origin led on')
  t.equal((await app.inject({ url: `${PREFIX}/led/00000001/0005`, headers: crossSite })).statusCode, 200, 'cross-site led read')
  t.equal((await app.inject({ url: `${PREFIX}/led/00000001/0005/on` })).statusCode, 200, 'led on from a script')
})
