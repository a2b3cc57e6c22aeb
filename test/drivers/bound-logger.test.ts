import t from 'tap'
import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { BoundLogger, type DriverLogger } from '../../drivers/logger.js'
import { REDACT } from '../../server.js'

/**
 * The per-BMC logger binds its fields at each line instead of being a pino
 * child: every line reads as the child's would (same fields, same values,
 * same order), for each way the drivers call it.
 */

function capture (level = 'info'): { log: Logger, lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(...chunk.toString().split('\n').filter((l) => l !== '')); done() } })
  return { log: pino({ level, redact: { paths: REDACT, censor: '[redacted]' } }, stream), lines }
}

/** A line without its time (the two loggers write a few ms apart). */
function fields (line: string): Array<[string, unknown]> {
  return Object.entries(JSON.parse(line) as Record<string, unknown>).filter(([k]) => k !== 'time')
}

const bindings = { bmc: '127.0.0.1:623', board: '40000001' }
/** One error for both loggers (its stack is part of the line). */
const closed = new Error('socket closed')
const calls: Array<[string, (log: DriverLogger) => void]> = [
  ['an object and a message', (log) => { log.info({ event: 'ipmi-cipher-suite', cipherSuite: 3, offered: [3, 17] }, 'using cipher suite 3') }],
  ['a message alone', (log) => { log.warn('BMC has no free session') }],
  ['a message with arguments', (log) => { log.info('suite %s of %s', '17', 'bmc-a') }],
  ['an object with arguments', (log) => { log.error({ event: 'x' }, 'failed %s', 'twice') }],
  ['an Error alone', (log) => { log.error(closed) }],
  ['an Error and a message', (log) => { log.warn(closed, 'session dropped') }],
  ['an object naming a bound field again', (log) => { log.info({ board: '40000001', reason: 'timeout' }, 'dropped') }],
  ['a password field, redacted', (log) => { log.info({ password: 'secret', user: 'admin' }, 'login') }],
  ['a child of it (as the session makes)', (log) => { log.child({ bmc: '127.0.0.1:623' }).info({ event: 'ipmi-relogin' }, 'logging in again') }],
  ['a level not written', (log) => { log.debug({ event: 'ipmi-session-up' }, 'IPMI session established') }]
]

for (const [name, call] of calls) {
  t.test(`${name}: the same line as a pino child's`, async (t) => {
    const child = capture()
    call(child.log.child(bindings))
    const bound = capture()
    call(new BoundLogger(bound.log, bindings))
    t.equal(bound.lines.length, child.lines.length, `${child.lines.length} line(s)`)
    const dedupe = (line: string): Array<[string, unknown]> => [...new Map(fields(line)).entries()]
    t.same(bound.lines.map(fields), child.lines.map(dedupe), 'same fields, values and order')
    if (bound.lines.length > 0) t.match(JSON.parse(bound.lines[0]), bindings, 'names the BMC and its board')
  })
}

t.test('levels: asked of the parent, and nothing built below them', async (t) => {
  const { log, lines } = capture('warn')
  const bound = new BoundLogger(log, bindings)
  t.equal(bound.isLevelEnabled('info'), false)
  t.equal(bound.isLevelEnabled('error'), true)
  let built = 0
  bound.info({ get hex () { built++; return 'aa' } }, 'not written')
  t.equal(built, 0, 'an info line under warn: its fields never read')
  t.same(lines, [])
  log.level = 'trace'
  t.equal(bound.isLevelEnabled('trace'), true, 'the parent\'s level, as it is now')
})

t.test('a parent without the level check (a test double) gets every line', async (t) => {
  const got: unknown[] = []
  const fake: DriverLogger = { trace: () => {}, debug: () => {}, info: (obj, msg) => { got.push([obj, msg]) }, warn: () => {}, error: () => {}, child: () => fake }
  new BoundLogger(fake, bindings).info({ event: 'e' }, 'm')
  t.same(got, [[{ ...bindings, event: 'e' }, 'm']])
})
