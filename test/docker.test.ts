import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { packageRoot } from '../config/paths.js'

/**
 * There is no Docker engine here, so the Dockerfile is checked by
 * construction: what it copies exists, what it runs exists in the build
 * output, and the CLI starts with the image's arguments.
 */
const dockerfile = readFileSync(join(packageRoot, 'Dockerfile'), 'utf8')
const instructions = dockerfile.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))

function jsonArgs (keyword: string): string[] {
  const line = instructions.find((l) => l.startsWith(`${keyword} `))
  if (line === undefined) throw new Error(`no ${keyword} in the Dockerfile`)
  return JSON.parse(line.slice(keyword.length + 1)) as string[]
}

t.test('every COPY source from the build context exists', async (t) => {
  const copies = instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
  t.ok(copies.length > 5)
  for (const copy of copies) {
    const parts = copy.split(/\s+/).slice(1)
    for (const source of parts.slice(0, -1)) t.ok(existsSync(join(packageRoot, source)), `${source} exists`)
  }
  // the build compiles every top-level .ts file (tsconfig.build.json's "*.ts"): each must be copied in
  const copied = new Set(copies.flatMap((copy) => copy.split(/\s+/).slice(1, -1)))
  for (const file of readdirSync(packageRoot).filter((f) => f.endsWith('.ts'))) t.ok(copied.has(file), `${file} is copied into the build stage`)
  // and every folder it compiles: the image copies folders, never a list of files
  const build = JSON.parse(readFileSync(join(packageRoot, 'tsconfig.build.json'), 'utf8')) as { include: string[] }
  for (const glob of build.include.filter((g) => g.includes('/'))) t.ok(copied.has(glob.split('/')[0]), `${glob.split('/')[0]}/ is copied into the build stage`)
  const ignored = readFileSync(join(packageRoot, '.dockerignore'), 'utf8').split('\n')
  for (const copy of copies) {
    for (const source of copy.split(/\s+/).slice(1, -1)) t.notOk(ignored.includes(source), `${source} is not .dockerignored`)
  }
})

/** The script node runs: the first argument after node's own flags. */
function script (entrypoint: string[]): string {
  return entrypoint.slice(1).find((a) => !a.startsWith('--')) ?? ''
}

t.test('the stages build what the runtime stage copies and runs', async (t) => {
  t.match(dockerfile, /FROM node:20-bookworm-slim AS build/)
  t.match(dockerfile, /RUN npm run build && npm prune --omit=dev/)
  t.notMatch(dockerfile, /COPY (bench|test)\b/, 'neither the benchmarks nor the tests go into the image')
  const build = JSON.parse(readFileSync(join(packageRoot, 'tsconfig.build.json'), 'utf8')) as { include: string[] }
  t.notOk(build.include.some((glob) => /^(bench|test)\//.test(glob)), 'the production build compiles neither bench/ nor test/')
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  t.match(runtime, /USER node/, 'the runtime runs as a non-root user')
  t.match(runtime, /VOLUME \["\/logs"\]/)
  t.match(runtime, /EXPOSE 5000/)
  const entrypoint = jsonArgs('ENTRYPOINT')
  t.same(entrypoint.slice(0, 1), ['node'])
  const startFlags = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(' ').filter((a) => a.startsWith('--'))
  t.same(startFlags, ['--max-semi-space-size=16', '--heap-growing-percent=50'], 'npm start sets the service\'s memory flags')
  t.same(entrypoint.filter((a) => a.startsWith('--')), startFlags, 'the image runs Node with the service\'s memory setting, as npm start does')
  t.ok(existsSync(join(packageRoot, script(entrypoint))), `${script(entrypoint)} exists in the build output`)
  t.ok(existsSync(join(packageRoot, 'emulator-configs', 'simple.json')))
})

t.test("the CLI starts with the image's arguments and serves the API", async (t) => {
  const entrypoint = jsonArgs('ENTRYPOINT')
  // the image's CMD, on loopback, a free port and a temporary log directory instead of 0.0.0.0:5000 and /logs
  const logDir = mkdtempSync(join(tmpdir(), 'opendcre-docker-logs-'))
  t.teardown(() => rmSync(logDir, { recursive: true, force: true }))
  const image = jsonArgs('CMD')
  t.same(image.filter((a) => a.startsWith('--')), ['--host', '--port', '--log-dir'])
  t.equal(image[image.indexOf('--log-dir') + 1], '/logs', 'logs go to the /logs volume')
  const cmd = image.map((arg, i, all) =>
    all[i - 1] === '--host' ? '127.0.0.1' : all[i - 1] === '--port' ? '0' : all[i - 1] === '--log-dir' ? logDir : arg)
  const child = spawn(process.execPath, [...entrypoint.slice(1).filter((a) => a.startsWith('--')), script(entrypoint), ...cmd], { cwd: packageRoot, env: { ...process.env, NODE_OPTIONS: '' } })
  t.teardown(() => { child.kill('SIGKILL') })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not listening within 30 s')), 30_000)
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)
      if (match !== null) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
  })
  const res = await fetch(`${url}/opendcre/1.2/scan`)
  t.equal(res.status, 200)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  t.equal(await exited, 0)
})
