import { spawn } from 'node:child_process'
import { packageRoot } from '../../config/paths.js'
import { CLI, operatorEnv, type Run } from '../cli-process.js'

/** `opendcre user add NAME --role ROLE --users FILE` as a real process, the password on its standard input. */
export function userAdd (file: string, name: string, role: string, stdin: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'user', 'add', name, '--role', role, '--users', file], { cwd: packageRoot, env: operatorEnv() })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += String(d) })
    child.stderr.on('data', (d) => { stderr += String(d) })
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(stdin)
  })
}

export const basic = (user: string, password: string): Record<string, string> =>
  ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` })
