// Runs tap. When its output is not a terminal (CI, a log file):
// - every failure is repeated at the end of the output, under the file it
//   came from, so a reader of the log's last lines (all a CI page may show)
//   sees what failed;
// - the files that failed are run once more, alone (one job). A file that
//   fails again fails the run. A file that passes the second time is named
//   at the end as flaky, with its first failure above it: the run passes,
//   and the flake is there to fix, not hidden.
// On a terminal tap's own reporter already ends with its failures.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

// tap's command, as its package.json's "bin" names it
const require = createRequire(import.meta.url)
const tapPackage = require.resolve('tap/package.json')
const tapBin = join(dirname(tapPackage), require(tapPackage).bin.tap)
const args = process.argv.slice(2)

/** One tap run, its output passed through; resolves with its exit code and its failures. */
function runTap (tapArgs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tapBin, ...tapArgs], { stdio: ['inherit', 'pipe', 'inherit'] })
    const failures = [] // { file, lines }
    const failedFiles = new Set()
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
        // tap's own "timeout!" names the file it stopped: the failure is that file's
        const expired = /^\s*expired: (.+\.test\.[cm]?[jt]s)$/.exec(line)
        if (expired && open.failure.file !== expired[1]) {
          open.failure.file = expired[1]
          failedFiles.add(expired[1])
        }
        // a failure's YAML block ends with "..." at the failure's own indentation
        if (line === `${open.indent}  ...`) open = null
        if (open && open.lines.length > 80) {
          open.lines.push(`${open.indent}  (cut)`)
          open = null
        }
        return
      }
      const failed = /^(\s*)not ok \d+ - (.*?)(?: # time=.*)?$/.exec(line)
      if (!failed) return
      // a file's own failure line is enough: its block is the command that ran it
      const fileLine = failed[1] === '' && /\.test\.[cm]?[jt]s$/.test(failed[2])
      if (fileLine) failedFiles.add(failed[2])
      if (failures.length < 50) {
        const failure = { file: fileLine ? failed[2] : file, lines: [line] }
        open = fileLine ? null : { indent: failed[1], lines: failure.lines, failure }
        failures.push(failure)
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
      resolve({ code: code ?? (signal ? 1 : 0), failures, failedFiles: [...failedFiles] })
    })
  })
}

function repeat (title, failures) {
  const out = ['', `# ${title}`]
  for (const f of failures) out.push(`# in ${f.file || '(no file)'}:`, ...f.lines)
  process.stdout.write(out.join('\n') + '\n')
}

if (process.stdout.isTTY) {
  const child = spawn(process.execPath, [tapBin, ...args], { stdio: 'inherit' })
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
} else {
  const first = await runTap(args)
  if (first.failures.length > 0) repeat(`${first.failures.length} failure line(s), repeated from above:`, first.failures)
  process.exitCode = first.code
  // a failure no file owns (tap itself failed) is not run again
  const owned = first.failures.every((f) => first.failedFiles.includes(f.file))
  if (first.code !== 0 && first.failedFiles.length > 0 && owned) {
    process.stdout.write(`\n# running the ${first.failedFiles.length} failed file(s) once more, one at a time: ${first.failedFiles.join(' ')}\n`)
    const second = await runTap(['--jobs', '1', ...first.failedFiles])
    if (second.code === 0) {
      repeat(`FLAKY, to fix: failed in the full run, passed alone: ${first.failedFiles.join(' ')}. The first failure(s):`, first.failures)
      process.exitCode = 0
    } else {
      repeat(`failed again, alone (${second.failures.length} failure line(s)):`, second.failures)
      process.exitCode = second.code
    }
  }
}
