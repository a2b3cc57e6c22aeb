import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { packageRoot } from '../plugins/paths.js'
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
      if (doc.narrowed?.[path] !== undefined || doc.widened?.[path] !== undefined) {
        t.not(ours.get(path), type, `${path} differs on purpose`)
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

t.test('every documented schema file is covered', async (t) => {
  const files = ['asset-information.json', 'board-location.json', 'boards-devices.json', 'boot-target.json',
    'device-location.json', 'fan-speed.json', 'led-control.json', 'power-status.json', 'test-status.json',
    'thermistor-reading.json', 'version.json']
  t.same(documented.map((d) => d.file).sort(), files)
})
