// Comments cite docs/protocol.md by section number ("docs/protocol.md §3.3"):
// each cited section must exist in the document, and no comment may cite a
// protocol.md other than the one in the repository.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'
import { packageRoot } from '../../config/paths.js'

const FOLDERS = ['auth', 'cli', 'config', 'drivers', 'emulators', 'http', 'monitoring', 'plugins', 'routes', 'schemas', 'test', 'bench']

function walk (dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path, out)
    else if (name.endsWith('.ts')) out.push(path)
  }
  return out
}

const sources = [
  ...readdirSync(packageRoot).filter((name) => name.endsWith('.ts')).map((name) => join(packageRoot, name)),
  ...FOLDERS.flatMap((folder) => walk(join(packageRoot, folder)))
].filter((file) => !file.endsWith('protocol-doc.test.ts'))

/** The section numbers of docs/protocol.md: "## 3. ..." is 3, "### 3.3 ..." is 3.3. */
function sections (markdown: string): Set<string> {
  const out = new Set<string>()
  for (const match of markdown.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)) out.add(match[1])
  return out
}

/** Every "docs/protocol.md §a, §b.c" citation: [file, section]. */
function citations (file: string, text: string): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const match of text.matchAll(/docs\/protocol\.md((?:[ ,/]*(?:and )?§\d+(?:\.\d+)?)+)/g)) {
    for (const section of match[1].matchAll(/§(\d+(?:\.\d+)?)/g)) out.push([relative(packageRoot, file), section[1]])
  }
  return out
}

t.test('docs/protocol.md numbers its sections', async (t) => {
  const numbered = sections(readFileSync(join(packageRoot, 'docs', 'protocol.md'), 'utf8'))
  for (const top of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']) t.ok(numbered.has(top), `§${top}`)
})

t.test('every citation of docs/protocol.md names a section it has', async (t) => {
  const numbered = sections(readFileSync(join(packageRoot, 'docs', 'protocol.md'), 'utf8'))
  const all = sources.flatMap((file) => citations(file, readFileSync(file, 'utf8')))
  t.ok(all.length >= 40, `${all.length} citations found`)
  t.same(all.filter(([, section]) => !numbered.has(section)).map(([file, section]) => `${file}: §${section}`), [])
})

t.test('no comment cites a protocol.md outside the repository', async (t) => {
  const stray = sources.filter((file) => /(?<!docs\/)protocol\.md §/.test(readFileSync(file, 'utf8'))).map((file) => relative(packageRoot, file))
  t.same(stray, [])
})

t.test('the citation reader finds what it should', async (t) => {
  const numbered = sections('## 1. A\n### 1.4 B\n## 10. C\n')
  t.same([...numbered], ['1', '1.4', '10'])
  t.same(citations(join(packageRoot, 'x.ts'), '(docs/protocol.md §3.2, §3.3) and docs/protocol.md §1.1/§3.1').map(([, s]) => s), ['3.2', '3.3', '1.1', '3.1'])
})
