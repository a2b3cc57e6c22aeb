import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { packageRoot } from '../config/paths.js'
import { documented } from '../schemas/responses.js'

/**
 * The TypeBox response schemas are derived from the JSON Schemas the v1.2 API
 * reference documents (schemas/json/): every documented property is there with
 * its documented type, and every difference is declared, with its reason, in
 * schemas/responses.ts.
 */
interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  items?: JsonSchema
  anyOf?: JsonSchema[]
  enum?: unknown[]
}

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

/** path -> type, for every property (arrays descend into items). */
function flatten (schema: JsonSchema, prefix = ''): Map<string, string> {
  const out = new Map<string, string>()
  const visit = (node: JsonSchema, path: string): void => {
    const target = node.type === 'array' && node.items !== undefined ? node.items : node
    for (const [key, child] of Object.entries(target.properties ?? {})) {
      const childPath = path === '' ? key : `${path}.${key}`
      const type = child.anyOf !== undefined ? child.anyOf.map((s) => s.type).join('|') : String(child.type)
      out.set(childPath, type + (child.enum !== undefined ? `[${child.enum.join(',')}]` : ''))
      visit(child, childPath)
    }
  }
  visit(schema, prefix)
  return out
}

for (const doc of documented) {
  t.test(`${doc.file} matches its TypeBox schema`, async (t) => {
    const documentedSchema = JSON.parse(readFileSync(join(packageRoot, 'schemas', 'json', doc.file), 'utf8')) as JsonSchema
    const ours = flatten(JSON.parse(JSON.stringify(doc.schema)) as JsonSchema)
    const theirs = flatten(documentedSchema)
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
