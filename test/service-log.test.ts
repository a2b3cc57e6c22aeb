import fs, { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { ACCESS_LOG, createServiceLog } from '../server.js'

// the service's own log files (server.ts createServiceLog): lines batched, written at most
// 250 ms late when traffic is light, and no write at all while nothing is logged (issue 24:
// sonic-boom's periodic flush wrote zero bytes to every destination every 250 ms)
t.test('a quiet log writes nothing; a line still reaches the file within 250 ms', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-service-log-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { logger } = await createServiceLog('info', dir, { stdout: false })
  const file = join(dir, ACCESS_LOG)
  const lines = (): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')

  logger.info({ n: 1 }, 'first')
  t.equal(lines().length, 0, 'batched, not written at once')
  await sleep(400)
  t.match(JSON.parse(lines()[0]), { n: 1, msg: 'first' }, 'written out within the batching delay')

  const write = fs.write
  let writes = 0
  fs.write = ((...args: Parameters<typeof fs.write>) => {
    writes++
    return (write as (...a: unknown[]) => void)(...args)
  }) as typeof fs.write
  t.teardown(() => { fs.write = write })
  await sleep(800)
  t.equal(writes, 0, 'no write while nothing is logged')

  logger.info({ n: 2 }, 'second')
  logger.warn({ n: 3 }, 'third')
  await sleep(400)
  t.ok(writes >= 1, 'a line makes a write')
  t.same(lines().map((l) => JSON.parse(l).n), [1, 2, 3], 'every line, in order')
  const errors = readFileSync(join(dir, 'opendcre-error.log'), 'utf8').split('\n').filter((l) => l !== '')
  t.same(errors.map((l) => JSON.parse(l).n), [3], 'the warning in the error log too')
})
