import { Agent, request } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { exited, serveCli } from './cli-process.js'

type Outcome =
  | { kind: 'answered', status: number, connection: string | undefined, body: string }
  | { kind: 'failed', code: string }

/** One GET on its own connection (agent false) or on a kept-alive one. */
function get (url: string, agent: Agent | false): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(url, { agent, timeout: 10_000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ kind: 'answered', status: res.statusCode ?? 0, connection: res.headers.connection, body }))
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ kind: 'failed', code: err.code ?? err.message }))
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })))
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ kind: 'failed', code: err.code ?? err.message }))
    req.end()
  })
}

/**
 * `opendcre serve` as a real process; clients keep asking, some on a new
 * connection for every request, some on kept-alive connections, and more new
 * connections open in bursts while it closes. SIGTERM comes in the middle.
 * Every request must end with a complete answer (200, or 503 with
 * Connection: close) or a refused connection; none with a reset.
 */
async function run (t: Test, persistent: boolean): Promise<Outcome[]> {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-shutdown-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { child, url } = await serveCli(['--log-dir', dir])
  t.teardown(() => { child.kill('SIGKILL') })
  const exit = exited(child)
  const outcomes: Outcome[] = []
  let ok = 0
  let signalled = false
  const paths = ['/read/thermistor/00000001/0001', '/scan/00000001', '/test']
  const client = async (agent: Agent | false, index: number): Promise<void> => {
    for (let i = 0; ; i++) {
      const outcome = await get(`${url}/opendcre/1.2${paths[(i + index) % paths.length]}`, agent)
      outcomes.push(outcome)
      if (outcome.kind === 'answered' && outcome.status === 200 && ++ok === 120 && !signalled) {
        signalled = true
        child.kill('SIGTERM')
        // a burst of new connections arriving during the close
        void Promise.all(Array.from({ length: 40 }, async () => { outcomes.push(await get(`${url}/opendcre/1.2/test`, false)) }))
      }
      // a client told 503 stops (persistent ones keep trying until refused); a refusal ends every client
      if (outcome.kind === 'failed' || (outcome.kind === 'answered' && outcome.status === 503 && !persistent)) return
    }
  }
  const agents = [new Agent({ keepAlive: true, maxSockets: 1 }), new Agent({ keepAlive: true, maxSockets: 1 })]
  t.teardown(() => { for (const a of agents) a.destroy() })
  await Promise.all([client(false, 0), client(false, 1), client(agents[0], 2), client(agents[1], 3)])
  t.equal(await exit, 0, 'exits 0')
  t.match(await get(`${url}/opendcre/1.2/test`, false), { kind: 'failed', code: 'ECONNREFUSED' }, 'then connections are refused')
  return outcomes
}

function isJson (text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

function check (t: Test, outcomes: Outcome[]): void {
  const resets = outcomes.filter((o) => o.kind === 'failed' && o.code !== 'ECONNREFUSED')
  t.same(resets, [], 'no request ended in a reset, a hang-up or a timeout')
  const answered = outcomes.filter((o) => o.kind === 'answered')
  t.ok(answered.filter((o) => o.status === 200).length >= 120, 'answers before the signal')
  const unavailable = answered.filter((o) => o.status === 503)
  t.ok(unavailable.length > 0, 'requests during the close were answered 503')
  const incomplete = answered.filter((o) => o.status === 503
    ? o.connection !== 'close' || o.body !== '{"message":"the service is shutting down"}'
    : o.status !== 200 || !isJson(o.body))
  t.same(incomplete, [], 'every answer is a complete 200, or 503 with Connection: close')
  t.comment(`${answered.length - unavailable.length} x 200, ${unavailable.length} x 503, ${outcomes.length - answered.length} refused`)
}

t.test('SIGTERM under load: complete answers or refused connections, never a reset', async (t) => {
  for (let i = 0; i < 3; i++) {
    await t.test(`run ${i + 1}: clients stop when told 503`, async (t) => { check(t, await run(t, false)) })
  }
  for (let i = 0; i < 3; i++) {
    await t.test(`run ${i + 1}: clients keep trying until refused`, async (t) => { check(t, await run(t, true)) })
  }
})
