/**
 * The SSE framer (drivers/redfish/sse-parser.ts) against the WHATWG HTML
 * event-stream rules (§9.2.6): line ends CRLF, LF or CR, also split across
 * pieces; data lines joined; id kept; comments skipped; caps enforced.
 */
import t from 'tap'
import { SseParser } from '../../drivers/redfish/sse-parser.js'

const cases: Array<{ name: string, text: string, expected: Array<{ id: string, event: string, data: string }> }> = [
  { name: 'one message, LF', text: 'id: 1\ndata: {"a":1}\n\n', expected: [{ id: '1', event: 'message', data: '{"a":1}' }] },
  { name: 'CRLF line ends', text: 'id: 2\r\ndata: x\r\n\r\n', expected: [{ id: '2', event: 'message', data: 'x' }] },
  { name: 'CR line ends', text: 'id: 3\rdata: y\r\r', expected: [{ id: '3', event: 'message', data: 'y' }] },
  { name: 'data lines join with LF; event named', text: 'event: alert\ndata: a\ndata: b\n\n', expected: [{ id: '', event: 'alert', data: 'a\nb' }] },
  { name: 'comments and unknown fields skipped', text: ': keep-alive\n\nfoo: bar\ndata:no-space\n\n', expected: [{ id: '', event: 'message', data: 'no-space' }] },
  { name: 'no data: nothing dispatched', text: 'id: 9\n\n', expected: [] },
  { name: 'unfinished message not dispatched', text: 'data: half\n', expected: [] }
]

t.test('messages from whole text and from every split', async (t) => {
  for (const c of cases) {
    t.same(new SseParser().push(c.text), c.expected, c.name)
    for (let cut = 1; cut < c.text.length; cut++) {
      const parser = new SseParser()
      const got = [...parser.push(c.text.slice(0, cut)), ...parser.push(c.text.slice(cut))]
      if (JSON.stringify(got) !== JSON.stringify(c.expected)) t.fail(`${c.name}: split at ${cut} gives ${JSON.stringify(got)}`)
    }
  }
})

t.test('the last event id is kept across messages; retry is read', async (t) => {
  const parser = new SseParser()
  const got = parser.push('id: 7\nretry: 2500\ndata: a\n\ndata: b\n\n')
  t.same(got.map((m) => m.id), ['7', '7'])
  t.equal(parser.lastEventId, '7')
  t.equal(parser.retryMs, 2500)
  t.notOk(parser.pending)
  parser.push('data: c')
  t.ok(parser.pending, 'a line without its end is pending')
})

t.test('an endless line and an oversized message throw instead of growing', async (t) => {
  const parser = new SseParser({ maxLineChars: 100, maxMessageChars: 250 })
  parser.push('data: ')
  t.throws(() => { for (let i = 0; i < 10; i++) parser.push('x'.repeat(20)) }, { name: 'SseOverflow', message: /longer than 100/ })
  const big = new SseParser({ maxLineChars: 100, maxMessageChars: 250 })
  t.throws(() => big.push(`${'data: ' + 'y'.repeat(90) + '\n'}`.repeat(4)), { name: 'SseOverflow', message: /larger than 250/ })
})
