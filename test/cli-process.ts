import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { packageRoot } from '../config/paths.js'

/** Spawning the built CLI (npm test builds it first) as an operator would. */
export const CLI = join(packageRoot, 'dist', 'cli', 'opendcre.js')

/** The environment without tap's loader hooks. */
export function operatorEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const key of Object.keys(env)) {
    if (key === 'NODE_OPTIONS' || key.startsWith('TAP') || key.startsWith('_TAP')) delete env[key]
  }
  return { ...env, ...extra }
}

export interface Run { code: number | null, stdout: string, stderr: string }

/** Run the CLI to completion (killed after timeoutMs). */
export function runCli (args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: packageRoot, env: operatorEnv(env) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += String(d) })
    child.stderr.on('data', (d) => { stderr += String(d) })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Start a server process and wait for its "listening" log line; resolves with its base URL. */
export function startListening (command: string, args: string[], detached = false): Promise<{ child: ChildProcess, url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: packageRoot, env: operatorEnv(), detached })
    let output = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`no listening line within 120 s:\n${output}`))
    }, 120_000)
    child.stderr!.on('data', (d) => { output += String(d) })
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += line + '\n'
      const match = /Server listening at (https?:\/\/127\.0\.0\.1:\d+)/.exec(line)
      if (match !== null) {
        clearTimeout(timer)
        resolve({ child, url: match[1] })
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`exited with ${String(code)} before listening:\n${output}`))
    })
  })
}

/** `opendcre serve` on 127.0.0.1 and a free port. */
export function serveCli (args: string[]): Promise<{ child: ChildProcess, url: string }> {
  return startListening(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', ...args])
}

/**
 * `opendcre serve` for one test, logging to a fresh folder under `dir`;
 * stopped when the test ends (SIGTERM, SIGKILL after 5 s), waiting for its exit.
 */
export async function serveForTest (t: { teardown: (fn: () => unknown) => void }, dir: string, args: string[]): Promise<{ url: string, logs: string }> {
  const logs = mkdtempSync(join(dir, 'logs-'))
  const { child, url } = await serveCli(['--log-dir', logs, ...args])
  t.teardown(async () => {
    const exit = exited(child)
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exit
    clearTimeout(timer)
  })
  return { url, logs }
}

/** Resolves with the exit code once the process exits. */
export function exited (child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => child.once('exit', resolve))
}
