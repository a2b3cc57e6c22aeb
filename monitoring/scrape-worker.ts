import { parentPort } from 'node:worker_threads'
import type { ScrapeJob } from './scrape-pack.js'
import { ScrapeWriter } from './scrape-gzip.js'

/**
 * The scrape worker (monitoring/scrape-renderer.ts starts it): keeps each
 * series' label text by slot and the compressed bytes of lines that did not
 * change (monitoring/scrape-gzip.ts), and for each job writes the text and
 * gzips it here, off the event loop that polls, then hands the body back
 * (transferred, not copied). One job at a time, in the order sent: a job
 * runs to its end synchronously (zlib's sync calls, on this thread).
 */

const writer = new ScrapeWriter()

parentPort?.on('message', (job: ScrapeJob) => {
  try {
    const body = writer.write(job)
    parentPort?.postMessage({ id: job.id, body }, [body.buffer as ArrayBuffer])
  } catch (err) {
    parentPort?.postMessage({ id: job.id, error: (err as Error).message })
  }
})
