import { request as httpRequest } from 'node:http'

/** A reader of /opendcre/1.2/stream for tests: every event with the time it came; stops itself after `maxMs`. */
export interface SseEvent { event: string, data: any, at: number }

export function openStream (url: string, maxMs = 20_000): { events: SseEvent[], close: () => void } {
  const events: SseEvent[] = []
  const req = httpRequest(url, (res) => {
    let buffer = ''
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      buffer += chunk
      let end
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event = /^event: (.*)$/m.exec(block)?.[1]
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data), at: Date.now() })
      }
    })
  })
  req.on('error', () => {})
  req.end()
  const timer = setTimeout(() => req.destroy(), maxMs)
  return { events, close: () => { clearTimeout(timer); req.destroy() } }
}

/** Polls `what` every 50 ms until it gives something or `timeoutMs` passes. */
export async function waitFor<T> (what: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const found = what()
    if (found !== undefined || Date.now() > end) return found
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
