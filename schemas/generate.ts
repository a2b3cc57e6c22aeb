import { readdirSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { packageRoot } from '../config/paths.js'

/**
 * TypeBox source generated from the JSON Schemas the v1.2 API reference
 * documents (schemas/json/*.json -> schemas/generated/*.ts), run by
 * `npm run schemas`. @sinclair/typebox-codegen reads TypeScript types, not JSON
 * Schema, and pins TypeBox 0.33; the documents use a small subset (object,
 * array, string with enum, number, integer, boolean, anyOf), so this generator
 * covers exactly that subset and rejects any other keyword rather than
 * dropping it. The output is pure: the same documents give the same bytes,
 * which test/schemas.test.ts compares with the committed files.
 */

export const JSON_DIR = join(packageRoot, 'schemas', 'json')
export const GENERATED_DIR = join(packageRoot, 'schemas', 'generated')
export const COMMAND = 'npm run schemas'

interface JsonSchema {
  [keyword: string]: unknown
  type?: string
  title?: string
  description?: string
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  enum?: unknown[]
  anyOf?: JsonSchema[]
}

const KNOWN = new Set(['type', 'title', 'description', 'properties', 'required', 'items', 'enum', 'anyOf'])
const SCALARS: Record<string, string> = { string: 'String', number: 'Number', integer: 'Integer', boolean: 'Boolean', null: 'Null' }

/** A TypeScript single-quoted string literal. */
function quote (value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`
}

function key (name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : quote(name)
}

/** `{ title: '...' }` for the annotations a node carries, or '' when none. */
function options (node: JsonSchema, extra: string[] = []): string {
  const entries = [...extra]
  if (node.title !== undefined) entries.push(`title: ${quote(node.title)}`)
  if (node.description !== undefined) entries.push(`description: ${quote(node.description)}`)
  return entries.length === 0 ? '' : `{ ${entries.join(', ')} }`
}

/** One JSON Schema node as a TypeBox expression; `at` names it in errors. */
function expression (node: JsonSchema, at: string, indent: string): string {
  const unknown = Object.keys(node).filter((keyword) => !KNOWN.has(keyword))
  if (unknown.length > 0) throw new Error(`${at}: unsupported keyword ${unknown.join(', ')}`)
  if (node.anyOf !== undefined) {
    const members = node.anyOf.map((member, i) => expression(member, `${at}.anyOf[${i}]`, indent))
    const opts = options(node)
    return `Type.Union([${members.join(', ')}]${opts === '' ? '' : `, ${opts}`})`
  }
  if (node.type === 'object') {
    const properties = node.properties ?? {}
    const required = new Set(node.required ?? [])
    for (const name of required) if (!(name in properties)) throw new Error(`${at}: required ${name} is not a property`)
    const inner = indent + '  '
    const lines = Object.entries(properties).map(([name, child]) => {
      const body = expression(child, `${at}.${name}`, inner)
      return `${inner}${key(name)}: ${required.has(name) ? body : `Type.Optional(${body})`}`
    })
    const opts = options(node)
    const props = lines.length === 0 ? '{}' : `{\n${lines.join(',\n')}\n${indent}}`
    return `Type.Object(${props}${opts === '' ? '' : `, ${opts}`})`
  }
  if (node.type === 'array') {
    if (node.items === undefined) throw new Error(`${at}: an array without items`)
    const opts = options(node)
    return `Type.Array(${expression(node.items, `${at}[]`, indent)}${opts === '' ? '' : `, ${opts}`})`
  }
  if (node.properties !== undefined || node.required !== undefined || node.items !== undefined) {
    throw new Error(`${at}: properties, required or items on a ${String(node.type)}`)
  }
  const scalar = node.type === undefined ? undefined : SCALARS[node.type]
  if (scalar === undefined) throw new Error(`${at}: unsupported type ${JSON.stringify(node.type)}`)
  const extra: string[] = []
  if (node.enum !== undefined) {
    if (!node.enum.every((value) => typeof value === 'string') || node.type !== 'string') throw new Error(`${at}: only string enums are supported`)
    extra.push(`enum: [${(node.enum as string[]).map(quote).join(', ')}]`)
  }
  return `Type.${scalar}(${options(node, extra)})`
}

/** asset-information.json -> AssetInformationDocument */
export function exportName (file: string): string {
  return basename(file, '.json').split(/[^A-Za-z0-9]+/).filter(Boolean)
    .map((word) => word[0].toUpperCase() + word.slice(1)).join('') + 'Document'
}

/** The TypeScript module for one document. */
export function generateModule (file: string, document: JsonSchema): string {
  const { $schema, ...schema } = document
  const name = exportName(file)
  const header = [
    `// Generated from schemas/json/${file} by \`${COMMAND}\` (schemas/generate.ts): do not edit.`,
    ...(typeof $schema === 'string' ? [`// The document's $schema: ${$schema}`] : [])
  ]
  return [
    ...header,
    "import { Type, type Static } from '@sinclair/typebox'",
    '',
    `export const ${name} = ${expression(schema, file, '')}`,
    '',
    `export type ${name}T = Static<typeof ${name}>`,
    ''
  ].join('\n')
}

/** Every document in `jsonDir`, generated: output file name -> source text. */
export function generateAll (jsonDir = JSON_DIR): Map<string, string> {
  const out = new Map<string, string>()
  for (const file of readdirSync(jsonDir).filter((name) => name.endsWith('.json')).sort()) {
    const document = JSON.parse(readFileSync(join(jsonDir, file), 'utf8')) as JsonSchema
    out.set(basename(file, '.json') + '.ts', generateModule(file, document))
  }
  return out
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const modules = generateAll()
  rmSync(GENERATED_DIR, { recursive: true, force: true })
  mkdirSync(GENERATED_DIR, { recursive: true })
  for (const [file, text] of modules) writeFileSync(join(GENERATED_DIR, file), text)
  console.log(`${modules.size} schemas written to ${GENERATED_DIR}`)
}
