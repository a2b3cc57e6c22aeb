// Runs tap and, when its output is not a terminal (CI, a log file), repeats
// every failure at the end of the output, under the file it came from, so a
// reader of the log's last lines (all a CI page may show) sees what failed.
// On a terminal tap's own reporter already ends with its failures.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

// tap's command, as its package.json's "bin" names it
const require = createRequire(import.meta.url)
const tapPackage = require.resolve('tap/package.json')
const tapBin = join(dirname(tapPackage), require(tapPackage).bin.tap)
const args = process.argv.slice(2)

if (process.stdout.isTTY) {
  const child = spawn(process.execPath, [tapBin, ...args], { stdio: 'inherit' })
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
} else {
  const child = spawn(process.execPath, [tapBin, ...args], { stdio: ['inherit', 'pipe', 'inherit'] })
  const failures = [] // { file, lines }
  let file = ''
  let open = null // the failure being collected: its lines and its indentation
  let rest = ''

  const take = (line) => {
    const top = /^# Subtest: (.+)$/.exec(line)
    if (top) file = top[1]
    // a failure without a YAML block ends at its own line
    if (open && open.lines.length === 1 && line !== `${open.indent}  ---`) open = null
    if (open) {
      open.lines.push(line)
      // a failure's YAML block ends with "..." at the failure's own indentation
      if (line === `${open.indent}  ...`) open = null
      if (open && open.lines.length > 80) {
        open.lines.push(`${open.indent}  (cut)`)
        open = null
      }
      return
    }
    const failed = /^(\s*)not ok \d+/.exec(line)
    if (failed && failures.length < 50) {
      // a file's own failure line is enough: its block is the command that ran it
      open = failed[1] === '' ? null : { indent: failed[1], lines: [line] }
      failures.push({ file, lines: open ? open.lines : [line] })
    }
  }

  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk)
    const lines = (rest + chunk).split('\n')
    rest = lines.pop()
    for (const line of lines) take(line)
  })
  child.on('exit', (code, signal) => {
    if (rest) take(rest)
    if (failures.length > 0) {
      const out = ['', `# ${failures.length} failure line(s), repeated from above:`]
      for (const f of failures) out.push(`# in ${f.file || '(no file)'}:`, ...f.lines)
      process.stdout.write(out.join('\n') + '\n')
    }
    process.exitCode = code ?? (signal ? 1 : 0)
  })
}
