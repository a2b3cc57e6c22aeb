import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import t from 'tap'
import { build, get } from '../helper.js'

/**
 * GET /fleet: without fleet_query_url, {"source": "local"}; with one, the
 * data center's boards from the query API's answers (here a small HTTP
 * server answering as Prometheus's /api/v1/query does: the real one, with
 * VictoriaMetrics, is test/prometheus/datacenter.test.ts), and 502
 * {"message"} when it fails, is slow or answers too much.
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function queryApi (t: { teardown: (fn: () => unknown) => void }, handler: Handler): Promise<string> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

const vector = (result: unknown[]): string => JSON.stringify({ status: 'success', data: { resultType: 'vector', result } })
const NOW = 1_800_000_000

t.test('no fleet_query_url: the caller lists this instance\'s boards', async (t) => {
  const app = await build(t)
  const res = await get(app, '/fleet')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { source: 'local' })
})

t.test('the data center from the query API: state, hottest temperature, power, last seen, the owner\'s URL', async (t) => {
  const asked: string[] = []
  const url = await queryApi(t, (req, res) => {
    const q = new URL(req.url ?? '', 'http://x').searchParams.get('query') ?? ''
    asked.push(q)
    res.setHeader('content-type', 'application/json')
    if (q === 'opendcre_board_up') {
      res.end(vector([
        { metric: { __name__: 'opendcre_board_up', board_id: '40000002', backend: 'ipmi', instance: 'shard-1:5000' }, value: [NOW, '0'] },
        { metric: { __name__: 'opendcre_board_up', board_id: '40000001', backend: 'ipmi', instance: 'shard-0:5000' }, value: [NOW, '1'] },
        { metric: { __name__: 'opendcre_board_up', board_id: '70000001', backend: 'redfish', instance: '10.0.0.9:5000' }, value: [NOW, '1'] }
      ]))
    } else if (q.includes('opendcre_temperature_celsius')) {
      res.end(vector([{ metric: { board_id: '40000001', instance: 'shard-0:5000' }, value: [NOW, '61.5'] }]))
    } else if (q.includes('opendcre_power_watts')) {
      res.end(vector([{ metric: { board_id: '40000001', instance: 'shard-0:5000' }, value: [NOW, '212'] }]))
    } else if (q.includes('opendcre_reading_age_seconds')) {
      res.end(vector([{ metric: { board_id: '40000001', instance: 'shard-0:5000' }, value: [NOW, '4'] }, { metric: { board_id: '40000002', instance: 'shard-1:5000' }, value: [NOW, '300'] }]))
    } else {
      res.statusCode = 400
      res.end(JSON.stringify({ status: 'error', error: 'unexpected query' }))
    }
  })
  const app = await build(t, { fleetQueryUrl: `${url}/`, shard: '0/2', shardUrls: ['https://shard-0:5000', 'https://shard-1:5000'] })
  const res = await get(app, '/fleet')
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.equal(body.source, 'datacenter')
  t.same(body.boards, [
    { board_id: '40000001', backend: 'ipmi', instance: 'shard-0:5000', url: 'https://shard-0:5000', up: true, temperature_c: 61.5, power_w: 212, last_seen: new Date((NOW - 4) * 1000).toISOString() },
    { board_id: '40000002', backend: 'ipmi', instance: 'shard-1:5000', url: 'https://shard-1:5000', up: false, temperature_c: null, power_w: null, last_seen: new Date((NOW - 300) * 1000).toISOString() },
    { board_id: '70000001', backend: 'redfish', instance: '10.0.0.9:5000', url: 'http://10.0.0.9:5000', up: true, temperature_c: null, power_w: null, last_seen: null }
  ], 'sorted by board id; a shard not in shard_urls linked as http://instance')
  t.equal(asked.length, 4, 'four queries, asked once each')
})

t.test('a query API that fails, stalls, or answers too much: 502 with the reason, in bounded time', async (t) => {
  const refusing = await queryApi(t, (_req, res) => { res.statusCode = 422; res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ status: 'error', error: 'parse error' })) })
  const app = await build(t, { fleetQueryUrl: refusing })
  const refused = await get(app, '/fleet')
  t.equal(refused.statusCode, 502)
  t.match(refused.json().message, /refused .*422 parse error/)

  const html = await queryApi(t, (_req, res) => { res.end('<html>not here</html>') })
  const notJson = await get(await build(t, { fleetQueryUrl: html }), '/fleet')
  t.same([notJson.statusCode, notJson.json()], [502, { message: 'the fleet query URL answered 200 with no JSON' }])

  const stalling = await queryApi(t, () => {})
  const start = Date.now()
  const stalled = await get(await build(t, { fleetQueryUrl: stalling }), '/fleet')
  t.equal(stalled.statusCode, 502)
  t.match(stalled.json().message, /did not answer within 5000 ms/)
  t.ok(Date.now() - start < 8000, 'answered after the 5 s bound')

  const chunk = 'x'.repeat(1024 * 1024)
  const flooding = await queryApi(t, (_req, res) => {
    let sent = 0
    const more = (): void => { while (sent < 40 && res.write(chunk)) sent++; if (sent < 40) res.once('drain', more); else res.end() }
    more()
  })
  const flooded = await get(await build(t, { fleetQueryUrl: flooding }), '/fleet')
  t.equal(flooded.statusCode, 502)
  t.match(flooded.json().message, /over 33554432 bytes/)
})

t.test('fleet_query_url must be an http(s) URL', async (t) => {
  await t.rejects(build(t, { fleetQueryUrl: 'ftp://x' }), /--fleet-query-url: 'ftp:\/\/x' is not an http/)
})
