import { parentPort } from 'node:worker_threads'
import { once } from 'node:events'
import { createGzip } from 'node:zlib'
import { SCRAPE_GZIP } from './exposition.js'
import { LabelStore, renderJob, type ScrapeJob } from './scrape-pack.js'

/**
 * The scrape worker (monitoring/scrape-renderer.ts starts it): keeps each
 * series' label text by slot, and for each job writes the text and
 * gzips it here, off the event loop that polls, then hands the body back
 * (transferred, not copied). One job at a time, in the order sent.
 */

/** A body in an ArrayBuffer of its own, so that it can be transferred. */
function own (pieces: Buffer[]): Uint8Array {
  const body = new Uint8Array(pieces.reduce((n, piece) => n + piece.length, 0))
  let at = 0
  for (const piece of pieces) {
    body.set(piece, at)
    at += piece.length
  }
  return body
}

async function gzipped (pieces: Iterable<Buffer>): Promise<Uint8Array> {
  const gzip = createGzip(SCRAPE_GZIP)
  const out: Buffer[] = []
  gzip.on('data', (piece: Buffer) => out.push(piece))
  const ended = once(gzip, 'end')
  for (const piece of pieces) {
    // a piece (2 MB) is over the stream's high-water mark: this waits until zlib has taken all of it
    if (!gzip.write(piece)) await once(gzip, 'drain')
  }
  gzip.end()
  await ended
  return own(out)
}

const store = new LabelStore()
let jobs = Promise.resolve()

parentPort?.on('message', (job: ScrapeJob) => {
  jobs = jobs.then(async () => {
    try {
      store.take(job)
      // gzip takes each piece before the next is asked for (it drains): the pieces take turns
      const body = job.gzip ? await gzipped(renderJob(job, store, true)) : own([...renderJob(job, store)])
      parentPort?.postMessage({ id: job.id, body }, [body.buffer as ArrayBuffer])
    } catch (err) {
      parentPort?.postMessage({ id: job.id, error: (err as Error).message })
    }
  })
})
