/**
 * A Server-Sent Events framer (WHATWG HTML "Server-sent events", §9.2.6
 * "Interpreting an event stream"): text in, whole messages out. Lines end
 * in CRLF, LF or CR; a blank line dispatches the message; `data:` lines
 * join with LF; `id:` sets the last event id (kept across messages, sent
 * back as Last-Event-ID); `retry:` the reconnection time; lines starting
 * with `:` are comments (keep-alives). Bounded: a line or a message over
 * its cap throws SseOverflow instead of growing the buffer.
 */
export interface SseMessage {
  /** The last event id when the message was dispatched ('' when none was ever set). */
  id: string
  event: string
  data: string
}

export class SseOverflow extends Error {
  override name = 'SseOverflow'
}

export interface SseLimits {
  /** The longest line (characters) taken; a longer one throws. */
  maxLineChars: number
  /** The most data (characters) one message carries. */
  maxMessageChars: number
}

export const DEFAULT_SSE_LIMITS: SseLimits = { maxLineChars: 64 * 1024, maxMessageChars: 256 * 1024 }

export class SseParser {
  lastEventId = ''
  /** The service's `retry:` (ms), if it sent one. */
  retryMs?: number
  private buffer = ''
  private data: string[] = []
  private dataChars = 0
  private event = ''
  private afterCr = false

  constructor (private readonly limits: SseLimits = DEFAULT_SSE_LIMITS) {}

  /** True while part of a message (a line or data lines without their blank line) waits for more text. */
  get pending (): boolean {
    return this.buffer !== '' || this.data.length > 0
  }

  /** Takes the next piece of the stream; returns the messages it completed. */
  push (text: string): SseMessage[] {
    const out: SseMessage[] = []
    let start = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      // an LF straight after a CR ends nothing: CRLF is one line end
      if (c === 10 && this.afterCr && i === start && this.buffer === '') {
        this.afterCr = false
        start = i + 1
        continue
      }
      this.afterCr = c === 13
      const line = this.buffer + text.slice(start, i)
      this.buffer = ''
      start = i + 1
      this.checkLine(line.length)
      const message = this.line(line)
      if (message !== undefined) out.push(message)
    }
    if (start < text.length) {
      this.afterCr = false
      this.buffer += text.slice(start)
      this.checkLine(this.buffer.length)
    }
    return out
  }

  private checkLine (chars: number): void {
    if (chars > this.limits.maxLineChars) throw new SseOverflow(`an event stream line longer than ${this.limits.maxLineChars} characters`)
  }

  private line (line: string): SseMessage | undefined {
    if (line === '') return this.dispatch()
    if (line.startsWith(':')) return undefined
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'data':
        this.dataChars += value.length + 1
        if (this.dataChars > this.limits.maxMessageChars) throw new SseOverflow(`an event stream message larger than ${this.limits.maxMessageChars} characters`)
        this.data.push(value)
        break
      case 'event':
        this.event = value
        break
      case 'id':
        if (!value.includes('\u0000')) this.lastEventId = value
        break
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value)
        break
    }
    return undefined
  }

  private dispatch (): SseMessage | undefined {
    const data = this.data
    const event = this.event
    this.data = []
    this.dataChars = 0
    this.event = ''
    if (data.length === 0) return undefined
    return { id: this.lastEventId, event: event === '' ? 'message' : event, data: data.join('\n') }
  }
}
