import { request, type ClientRequest, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { build } from '../helper.js'

interface Answer { status: number, headers: IncomingMessage['headers'], res: IncomingMessage, req: ClientRequest }

/** Opens a GET from a chosen loopback source address; resolves on the status line (a stream stays open). */
async function open (port: number, path: string, localAddress: string): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress, agent: false, timeout: 5000 }, (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, res, req }))
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.end()
  })
}

async function body (answer: Answer): Promise<string> {
  let text = ''
  for await (const chunk of answer.res) text += String(chunk)
  return text
}

t.test('event streams: 8 per address, a total cap, 503 with Retry-After; the address keeps its other requests', async (t) => {
  const app = await build(t, { limits: { maxStreams: 12 } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  const streams: Answer[] = []
  t.teardown(() => { for (const s of streams) s.req.destroy() })

  for (let i = 0; i < 8; i++) {
    const s = await open(port, '/opendcre/1.2/stream', '127.0.0.1')
    streams.push(s)
    t.equal(s.status, 200, `stream ${i + 1} from 127.0.0.1`)
  }
  const ninth = await open(port, '/opendcre/1.2/stream', '127.0.0.1')
  t.equal(ninth.status, 503, 'the ninth from the same address')
  t.equal(ninth.headers['retry-after'], '5')
  t.match(JSON.parse(await body(ninth)), { message: /too many event streams from one address \(8\)/ })

  const other = await open(port, '/opendcre/1.2/test', '127.0.0.1')
  t.equal(other.status, 200, 'the same address still gets its other requests answered')
  t.same(JSON.parse(await body(other)), { status: 'ok' })

  for (let i = 0; i < 4; i++) {
    const s = await open(port, '/opendcre/1.2/stream', '127.0.0.2')
    streams.push(s)
    t.equal(s.status, 200, `stream ${i + 1} from 127.0.0.2`)
  }
  const over = await open(port, '/opendcre/1.2/stream', '127.0.0.3')
  t.equal(over.status, 503, 'the total cap (12) holds for a third address')
  t.match(JSON.parse(await body(over)), { message: /too many event streams \(12\)/ })

  // closing a stream frees its place
  streams[0].res.destroy()
  streams[0].req.destroy()
  let again: Answer | undefined
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    again = await open(port, '/opendcre/1.2/stream', '127.0.0.1')
    if (again.status === 200) break
    await body(again)
  }
  t.equal(again?.status, 200, 'a closed stream frees its place')
  if (again !== undefined) streams.push(again)
})
