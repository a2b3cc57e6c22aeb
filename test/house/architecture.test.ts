// The layout's rules, read from the code's own imports (docs/architecture in
// README "The code"): imports flow routes -> plugins -> drivers, nothing runs
// back up, there are no cycles, the root holds only app.ts and server.ts, and
// no source file outside the tests grows past 500 lines.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import t from 'tap'
import { packageRoot } from '../../config/paths.js'

const SOURCE_FOLDERS = ['auth', 'cli', 'config', 'drivers', 'emulators', 'http', 'monitoring', 'plugins', 'routes', 'schemas']

function walk (dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path, out)
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

const files = [
  ...readdirSync(packageRoot).filter((name) => name.endsWith('.ts')).map((name) => join(packageRoot, name)),
  ...SOURCE_FOLDERS.flatMap((folder) => walk(join(packageRoot, folder)))
]
const rel = (abs: string): string => relative(packageRoot, abs)

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

/** Each file's imports: relative ones resolved to files, packages by name. */
const graph = new Map<string, { local: string[], packages: string[] }>()
for (const file of files) {
  const text = readFileSync(file, 'utf8')
  const local: string[] = []
  const packages: string[] = []
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2]
    if (spec.startsWith('.')) local.push(rel(resolve(dirname(file), spec.replace(/\.js$/, '.ts'))))
    else packages.push(spec)
  }
  graph.set(rel(file), { local, packages })
}

t.test('the root holds only app.ts and server.ts', async (t) => {
  t.same(readdirSync(packageRoot).filter((name) => name.endsWith('.ts')).sort(), ['app.ts', 'server.ts'])
})

t.test('every relative import names a file that exists', async (t) => {
  const known = new Set(graph.keys())
  const missing = [...graph].flatMap(([file, { local }]) => local.filter((target) => !known.has(target) && !target.endsWith('.d.ts')).map((target) => `${file} -> ${target}`))
  t.same(missing, [])
})

const under = (file: string, ...folders: string[]): boolean => folders.some((folder) => file.startsWith(folder + '/'))

/** [who, may not import, why] */
const RULES: Array<[string[], string[], string]> = [
  [['drivers'], ['plugins', 'routes', 'emulators', 'monitoring', 'auth', 'cli', 'http'], 'drivers talk to hardware and know nothing above them'],
  [['emulators'], ['plugins', 'routes', 'monitoring', 'auth', 'cli', 'http'], 'an emulator shares codecs with drivers/, nothing of the service'],
  [['monitoring'], ['plugins', 'routes', 'emulators', 'cli'], 'the poller serves plugins, not the other way round'],
  [['plugins'], ['routes', 'cli'], 'imports flow routes -> plugins -> drivers'],
  [['config', 'auth', 'http', 'schemas'], ['plugins', 'routes', 'cli', 'emulators'], 'the service\'s foundations sit below its plugins'],
  [['routes'], ['cli', 'emulators', 'drivers/device-bus', 'drivers/ipmi', 'drivers/redfish', 'drivers/hat', 'drivers/transport'], 'routes reach backends only through the registry']
]

t.test('imports flow one way', async (t) => {
  for (const [who, forbidden, why] of RULES) {
    const broken: string[] = []
    for (const [file, { local }] of graph) {
      if (!under(file, ...who)) continue
      for (const target of local) if (under(target, ...forbidden) || target === 'app.ts' || target === 'server.ts') broken.push(`${file} -> ${target}`)
    }
    t.same(broken, [], `${who.join(', ')}: ${why}`)
  }
})

t.test('drivers/, emulators/ and monitoring/ never import Fastify', async (t) => {
  const broken = [...graph].filter(([file, { packages }]) => under(file, 'drivers', 'emulators', 'monitoring') && packages.some((p) => p === 'fastify' || p.startsWith('fastify-') || p.startsWith('@fastify/'))).map(([file]) => file)
  t.same(broken, [])
})

t.test('no import cycles', async (t) => {
  // Tarjan's strongly connected components over the file graph
  let index = 0
  const indices = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const cycles: string[][] = []
  const visit = (v: string): void => {
    indices.set(v, index); low.set(v, index); index++
    stack.push(v); onStack.add(v)
    for (const w of graph.get(v)?.local ?? []) {
      if (!graph.has(w)) continue
      if (!indices.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)) } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!))
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = []
      let w: string
      do { w = stack.pop()!; onStack.delete(w); component.push(w) } while (w !== v)
      if (component.length > 1 || (graph.get(v)?.local ?? []).includes(v)) cycles.push(component.sort())
    }
  }
  for (const v of graph.keys()) if (!indices.has(v)) visit(v)
  t.same(cycles, [])
})

t.test('no source file outside the tests is over 500 lines', async (t) => {
  const long = files.map((file) => [rel(file), readFileSync(file, 'utf8').split('\n').length] as const).filter(([, lines]) => lines > 500)
  t.same(long, [])
})
