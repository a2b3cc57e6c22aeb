import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { packageRoot } from '../config/paths.js'
import { exportName, generateAll, generateModule, GENERATED_DIR } from '../schemas/generate.js'
import { documented } from '../schemas/responses.js'

/**
 * The TypeBox response schemas are generated from the JSON Schemas the v1.2
 * API reference documents (schemas/json/ -> schemas/generated/, `npm run
 * schemas`) and composed in schemas/responses.ts: every documented property
 * is there with its documented type, and every difference is declared, with
 * its reason, in schemas/responses.ts.
 */
interface JsonSchema {
  $schema?: string
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  anyOf?: JsonSchema[]
  enum?: unknown[]
}

const jsonDocument = (file: string): JsonSchema => JSON.parse(readFileSync(join(packageRoot, 'schemas', 'json', file), 'utf8')) as JsonSchema

t.test('schemas/generated/ is what `npm run schemas` makes of schemas/json/ now (not stale)', async (t) => {
  const fresh = generateAll()
  const committed = readdirSync(GENERATED_DIR).sort()
  t.same(committed, [...fresh.keys()].sort(), 'one generated file per document, and no other')
  for (const [file, text] of fresh) {
    t.equal(readFileSync(join(GENERATED_DIR, file), 'utf8'), text, `${file} is up to date: run npm run schemas`)
  }
})

t.test('each generated schema is its document, keyword for keyword', async (t) => {
  for (const file of readdirSync(join(packageRoot, 'schemas', 'json')).filter((f) => f.endsWith('.json'))) {
    const module = await import(pathToFileURL(join(GENERATED_DIR, file.replace(/\.json$/, '.js'))).href) as Record<string, unknown>
    const { $schema, ...document } = jsonDocument(file)
    t.type($schema, 'string', `${file} names its $schema (kept in the header, not the schema: Ajv would fetch it)`)
    t.same(JSON.parse(JSON.stringify(module[exportName(file)])), document, file)
  }
})

t.test('the generator: required, enums, anyOf, quoting; anything else is refused, not dropped', async (t) => {
  const text = generateModule('x-y.json', {
    title: "it's",
    type: 'object',
    required: ['a'],
    properties: {
      a: { type: 'string', enum: ['p', 'q'] },
      'b-c': { anyOf: [{ type: 'integer' }, { type: 'string' }] },
      d: { type: 'array', items: { type: 'boolean' } }
    }
  })
  t.match(text, /^\/\/ Generated from schemas\/json\/x-y\.json by `npm run schemas`/)
  t.match(text, /export const XYDocument = Type\.Object\(\{\n {2}a: Type\.String\(\{ enum: \['p', 'q'\] \}\),/)
  t.match(text, /'b-c': Type\.Optional\(Type\.Union\(\[Type\.Integer\(\), Type\.String\(\)\]\)\)/)
  t.match(text, /d: Type\.Optional\(Type\.Array\(Type\.Boolean\(\)\)\)/)
  t.match(text, /title: 'it\\'s'/)
  t.throws(() => generateModule('p.json', { type: 'object', properties: { a: { type: 'string', pattern: '^x' } } }), /p\.json\.a: unsupported keyword pattern/)
  t.throws(() => generateModule('p.json', { type: 'object', additionalProperties: false }), /unsupported keyword additionalProperties/)
  t.throws(() => generateModule('p.json', { type: 'object', required: ['z'], properties: {} }), /required z is not a property/)
  t.throws(() => generateModule('p.json', { type: 'array' }), /array without items/)

  // and the output compiles to the schema it was made from (run as CommonJS with TypeBox handed in: no files)
  const source = { title: 'T', type: 'object', required: ['a'], properties: { a: { type: 'string', enum: ['p'] }, n: { type: 'number' } } }
  const ts = await import('typescript')
  const js = ts.transpileModule(generateModule('t.json', source), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText
  const made: Record<string, unknown> = {}
  const typebox = await import('@sinclair/typebox')
  const load = (name: string): unknown => {
    if (name !== '@sinclair/typebox') throw new Error(`the generated module imports ${name}`)
    return typebox
  }
  // eslint-disable-next-line no-new-func
  new Function('require', 'exports', js)(load, made)
  t.same(JSON.parse(JSON.stringify(made.TDocument)), source)
})

/**
 * The values a property's type accepts, as atoms: 'integer', 'number',
 * 'string', 'boolean', or one enum value ('=red'). A type string is
 * flatten()'s: 'integer|string', 'string[a,b]'.
 */
function atoms (type: string): Set<string> {
  const out = new Set<string>()
  for (const part of type.split('|')) {
    const match = /^(\w+)\[(.*)\]$/.exec(part)
    if (match !== null) for (const value of match[2].split(',')) out.add(`=${value}`)
    else out.add(part)
  }
  return out
}

/** Whether every value type `a` accepts, `b` accepts too. */
function within (a: string, b: string): boolean {
  const wide = atoms(b)
  return [...atoms(a)].every((atom) => wide.has(atom) ||
    (atom === 'integer' && wide.has('number')) ||
    (atom.startsWith('=') && wide.has('string')))
}

/** path -> type, for every property (arrays descend into items); `required` collects the required paths. */
function flatten (schema: JsonSchema, required = new Set<string>()): Map<string, string> {
  const out = new Map<string, string>()
  const visit = (node: JsonSchema, path: string): void => {
    const target = node.type === 'array' && node.items !== undefined ? node.items : node
    for (const [key, child] of Object.entries(target.properties ?? {})) {
      const childPath = path === '' ? key : `${path}.${key}`
      const type = child.anyOf !== undefined ? child.anyOf.map((s) => s.type).join('|') : String(child.type)
      out.set(childPath, type + (child.enum !== undefined ? `[${child.enum.join(',')}]` : ''))
      if (target.required?.includes(key) === true) required.add(childPath)
      visit(child, childPath)
    }
  }
  visit(schema, '')
  return out
}

for (const doc of documented) {
  t.test(`${doc.file} matches its TypeBox schema`, async (t) => {
    const documentedSchema = jsonDocument(doc.file)
    const oursRequired = new Set<string>()
    const theirsRequired = new Set<string>()
    const ours = flatten(JSON.parse(JSON.stringify(doc.schema)) as JsonSchema, oursRequired)
    const theirs = flatten(documentedSchema, theirsRequired)
    t.equal(JSON.parse(JSON.stringify(doc.schema)).type, documentedSchema.type, 'top-level type')
    for (const [path, type] of theirs) {
      const renamed = doc.renames?.[path]
      if (renamed !== undefined) {
        t.notOk(ours.has(path), `${path} is renamed (${renamed.why})`)
        t.equal(ours.get(renamed.to), type, `${renamed.to} has ${path}'s documented type`)
        continue
      }
      t.ok(ours.has(path), `${path} is in the schema`)
      const mine = ours.get(path) ?? ''
      if (doc.narrowed?.[path] !== undefined) {
        t.ok(within(mine, type) && !within(type, mine), `${path} is narrowed: ${mine} accepts less than ${type} (${doc.narrowed[path]})`)
        continue
      }
      if (doc.widened?.[path] !== undefined) {
        t.ok(within(type, mine) && !within(mine, type), `${path} is widened: ${mine} accepts more than ${type} (${doc.widened[path]})`)
        continue
      }
      t.equal(ours.get(path), type, `${path} has the documented type`)
    }
    for (const path of ours.keys()) {
      if (theirs.has(path)) continue
      const declared = doc.additions?.[path] !== undefined ||
        Object.values(doc.renames ?? {}).some((rename) => rename.to === path)
      t.ok(declared, `${path} is an addition declared with its reason`)
    }
    // presence: a path the document leaves optional and we require is a declared narrowing
    const renamedTo = (path: string): string => doc.renames?.[path]?.to ?? path
    t.same([...theirsRequired].map(renamedTo).filter((path) => !oursRequired.has(path)), [], 'nothing the document requires is optional here')
    const newlyRequired = [...oursRequired].filter((path) => ![...theirsRequired].map(renamedTo).includes(path)).sort()
    t.same(newlyRequired, [...(doc.required?.paths ?? [])].sort(),
      `required where the document leaves it optional, exactly as declared${doc.required === undefined ? '' : ` (${doc.required.why})`}`)
  })
}

t.test('every documented schema file is covered, and only those', async (t) => {
  const files = readdirSync(join(packageRoot, 'schemas', 'json')).filter((f) => f.endsWith('.json')).sort()
  t.ok(files.length > 0, `${files.length} documents in schemas/json`)
  t.same(documented.map((d) => d.file).sort(), files)
})

t.test('the narrowed/widened check tells them apart', async (t) => {
  t.ok(within('integer', 'number') && !within('number', 'integer'), 'integer is narrower than number')
  t.ok(within('string', 'integer|string') && !within('integer|string', 'string'), 'integer|string is wider than string')
  t.ok(within('string[a,b]', 'string[a,b,c]') && !within('string[a,b,c]', 'string[a,b]'), 'an enum with one more value is wider')
  t.ok(within('string[a]', 'string') && !within('string', 'string[a]'), 'an enum is narrower than any string')
  t.notOk(within('boolean', 'string') || within('string', 'boolean'), 'unrelated types are neither')
})
