import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { packageRoot } from '../config/paths.js'
import { ACCESS_LOG, AUDIT_LOG } from '../server.js'
import { exited, serveCli } from './cli-process.js'

/** logrotate(8), as Debian installs it (.ci/run installs the package). */
const LOGROTATE = '/usr/sbin/logrotate'

/** The logrotate block docs/operations.md shows. */
function documentedConfig (): string {
  const doc = readFileSync(join(packageRoot, 'docs', 'operations.md'), 'utf8')
  const block = /```\n(\/var\/log\/opendcre\/opendcre-\*\.log \{[\s\S]*?\n\})\n```/.exec(doc)
  if (block === null) throw new Error('no logrotate block in docs/operations.md')
  return block[1]
}

t.test('the documented logrotate configuration rotates the logs of a running service, no line lost', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-logrotate-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const logDir = join(dir, 'logs')
  const { child, url } = await serveCli(['--log-dir', logDir])
  t.teardown(() => { child.kill('SIGKILL') })
  const config = documentedConfig()
  t.match(config, /kill -HUP PID/)
  writeFileSync(join(dir, 'logrotate.conf'), config.replace('/var/log/opendcre/', `${logDir}/`).replace('PID', String(child.pid)))

  const get = async (path: string): Promise<number> => (await fetch(`${url}/opendcre/1.2${path}`)).status
  const before = ['/read/thermistor/00000001/0001', '/power/00000001/000d/on']
  for (const path of before) t.equal(await get(path), 200)
  await sleep(400) // written out (batched for at most 250 ms)

  const rotated = await new Promise<{ code: number | null, stderr: string }>((resolve) => {
    execFile(LOGROTATE, ['--force', '--state', join(dir, 'state'), join(dir, 'logrotate.conf')], (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stderr })
    })
  })
  t.equal(rotated.code, 0, `logrotate: ${rotated.stderr}`)
  await sleep(200)
  const after = ['/read/fan_speed/00000001/0002', '/power/00000001/000d/off']
  for (const path of after) t.equal(await get(path), 200)
  const exit = exited(child)
  child.kill('SIGTERM')
  t.equal(await exit, 0)

  const files = readdirSync(logDir).sort()
  t.ok(files.includes(`${ACCESS_LOG}.1`) && files.includes(ACCESS_LOG), `rotated and new files: ${files.join(', ')}`)
  const urls = (file: string): string[] => readFileSync(join(logDir, file), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l) as { msg: string, url?: string }).filter((l) => l.msg === 'request').map((l) => l.url ?? '')
  t.same(urls(`${ACCESS_LOG}.1`), before.map((p) => `/opendcre/1.2${p}`), 'lines before the rotation in the moved file')
  t.same(urls(ACCESS_LOG), after.map((p) => `/opendcre/1.2${p}`), 'lines after it in the new one')
  const commands = (file: string): string[] => readFileSync(join(logDir, file), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { command: string }).command)
  t.same(commands(`${AUDIT_LOG}.1`), ['power on'])
  t.same(commands(AUDIT_LOG), ['power off'])
})
