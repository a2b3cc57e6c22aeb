/**
 * Where a heap snapshot's memory goes (node dist/bench/heap-summary.js FILE
 * [--top 40] [--count N]): the V8 .heapsnapshot's objects grouped by
 * constructor (or type, for strings, arrays, code, closures by function
 * name), with their count, self size and retained size (the memory that
 * would be freed with them: each object's dominator subtree, the dominator
 * tree computed over the strong edges with Cooper, Harvey and Kennedy's
 * iterative algorithm). With --count N (the BMCs of the fleet), every row
 * also shows bytes per BMC. bench:fleet --heap-snapshot DIR writes the
 * snapshots this reads. With --who GROUP, what holds that group's
 * outermost members instead: their nearest dominator of another group, and
 * the edge it holds them by. With --tree MB, the dominator tree from the
 * root down, children of one group taken together, where they retain at
 * least MB. With --pool, Node's shared Buffer pool slabs (8 KB
 * ArrayBuffers that Buffer.from and allocUnsafe cut small Buffers from) kept
 * alive, and what keeps them: a small Buffer kept for long keeps its whole
 * slab, which the dominator tree hides when several owners share one.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '40' }, count: { type: 'string' }, who: { type: 'string' }, tree: { type: 'string' }, pool: { type: 'boolean', default: false } }
})
if (positionals.length !== 1) {
  process.stderr.write('usage: heap-summary FILE.heapsnapshot [--top N] [--count BMCS]\n')
  process.exit(2)
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[], node_types: [string[]], edge_fields: string[], edge_types: [string[]] }, node_count: number }
  nodes: number[]
  edges: number[]
  strings: string[]
}

const snap = JSON.parse(readFileSync(positionals[0], 'utf8')) as Snapshot
const meta = snap.snapshot.meta
const NF = meta.node_fields.length
const EF = meta.edge_fields.length
const nType = meta.node_fields.indexOf('type')
const nName = meta.node_fields.indexOf('name')
const nSize = meta.node_fields.indexOf('self_size')
const nEdges = meta.node_fields.indexOf('edge_count')
const eType = meta.edge_fields.indexOf('type')
const eTo = meta.edge_fields.indexOf('to_node')
const nodeTypes = meta.node_types[0]
const edgeTypes = meta.edge_types[0]
const WEAK = edgeTypes.indexOf('weak')
const SHORTCUT = edgeTypes.indexOf('shortcut')
const n = snap.nodes.length / NF

// each node's first edge, and its strong successors
const firstEdge = new Uint32Array(n + 1)
for (let i = 0, e = 0; i < n; i++) {
  firstEdge[i] = e
  e += snap.nodes[i * NF + nEdges] * EF
}
firstEdge[n] = snap.edges.length

function strong (e: number): boolean {
  const t = snap.edges[e + eType]
  return t !== WEAK && t !== SHORTCUT
}

// postorder from the root (node 0), iteratively
const order = new Int32Array(n).fill(-1)
const post: number[] = []
{
  const stack: number[] = [0]
  const cursor = new Uint32Array(n)
  const seen = new Uint8Array(n)
  seen[0] = 1
  for (let i = 0; i < n; i++) cursor[i] = firstEdge[i]
  while (stack.length > 0) {
    const v = stack[stack.length - 1]
    let pushed = false
    while (cursor[v] < firstEdge[v + 1]) {
      const e = cursor[v]
      cursor[v] += EF
      if (!strong(e)) continue
      const w = snap.edges[e + eTo] / NF
      if (seen[w] === 0) {
        seen[w] = 1
        stack.push(w)
        pushed = true
        break
      }
    }
    if (!pushed) {
      stack.pop()
      order[v] = post.length
      post.push(v)
    }
  }
}

// predecessors over strong edges, among reachable nodes
const predCount = new Uint32Array(n + 1)
for (let v = 0; v < n; v++) {
  if (order[v] < 0) continue
  for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += EF) if (strong(e)) predCount[snap.edges[e + eTo] / NF]++
}
const predStart = new Uint32Array(n + 1)
for (let v = 0; v < n; v++) predStart[v + 1] = predStart[v] + predCount[v]
const preds = new Uint32Array(predStart[n])
const fill = predStart.slice(0, n)
for (let v = 0; v < n; v++) {
  if (order[v] < 0) continue
  for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += EF) if (strong(e)) preds[fill[snap.edges[e + eTo] / NF]++] = v
}

// dominators (Cooper, Harvey, Kennedy), indexed by postorder number
const idom = new Int32Array(n).fill(-1)
const rootPo = order[0]
idom[rootPo] = rootPo
for (let changed = true; changed;) {
  changed = false
  for (let i = post.length - 2; i >= 0; i--) {
    const v = post[i]
    let d = -1
    for (let p = predStart[v]; p < predStart[v + 1]; p++) {
      let a = order[preds[p]]
      if (a < 0 || idom[a] < 0) continue
      if (d < 0) { d = a; continue }
      let b = d
      while (a !== b) {
        while (a < b) a = idom[a]
        while (b < a) b = idom[b]
      }
      d = a
    }
    if (d >= 0 && idom[i] !== d) {
      idom[i] = d
      changed = true
    }
  }
}

// retained sizes: children before their dominators in postorder
const retained = new Float64Array(post.length)
for (let i = 0; i < post.length; i++) retained[i] += snap.nodes[post[i] * NF + nSize]
for (let i = 0; i < post.length - 1; i++) if (idom[i] >= 0 && idom[i] !== i) retained[idom[i]] += retained[i]

function groupOf (v: number): string {
  const type = nodeTypes[snap.nodes[v * NF + nType]]
  const name = snap.strings[snap.nodes[v * NF + nName]]
  if (type === 'object' || type === 'native') return name.length > 60 ? `${name.slice(0, 57)}...` : name
  if (type === 'closure') return `closure ${name === '' ? '(anonymous)' : name}`
  return `(${type})`
}

// a group's retained size counts only its outermost members (those no other member of the group dominates)
const groups = new Map<string, { count: number, self: number, retained: number }>()
const ownGroup = new Array<string>(post.length)
for (let i = post.length - 1; i >= 0; i--) {
  const v = post[i]
  const group = groupOf(v)
  ownGroup[i] = group
  let entry = groups.get(group)
  if (entry === undefined) {
    entry = { count: 0, self: 0, retained: 0 }
    groups.set(group, entry)
  }
  entry.count++
  entry.self += snap.nodes[v * NF + nSize]
  // (up to 200 dominators up: a deeper nesting counts twice, which these heaps do not have)
  let nested = false
  for (let d = idom[i], steps = 0; d >= 0 && d !== rootPo && steps < 200; d = idom[d], steps++) {
    if (ownGroup[d] === group) { nested = true; break }
  }
  if (!nested) entry.retained += retained[i]
}

const total = retained[rootPo]
const perBmc = values.count !== undefined ? Number(values.count) : undefined
const mb = (bytes: number): string => (bytes / 1048576).toFixed(1)
const rows = [...groups.entries()].sort((a, b) => b[1].retained - a[1].retained).slice(0, Number(values.top))
process.stdout.write(`${n} nodes, ${post.length} reachable, ${mb(total)} MB reachable${perBmc === undefined ? '' : `, ${Math.round(total / perBmc)} B per BMC`}\n`)
process.stdout.write(`${'retained MB'.padStart(11)} ${'self MB'.padStart(8)} ${'count'.padStart(9)}${perBmc === undefined ? '' : ' ret B/BMC'.padStart(11)}  group\n`)
for (const [group, entry] of rows) {
  process.stdout.write(`${mb(entry.retained).padStart(11)} ${mb(entry.self).padStart(8)} ${String(entry.count).padStart(9)}${perBmc === undefined ? '' : String(Math.round(entry.retained / perBmc)).padStart(11)}  ${group}\n`)
}

if (values.who !== undefined) {
  // the edge by which each node is first reached from its dominator's side: the last strong edge into it from any predecessor
  const holders = new Map<string, { count: number, retained: number }>()
  for (let i = 0; i < post.length; i++) {
    if (ownGroup[i] !== values.who) continue
    let d = idom[i]
    let steps = 0
    while (d >= 0 && d !== rootPo && ownGroup[d] === values.who && steps++ < 200) d = idom[d]
    if (ownGroup[idom[i]] === values.who) continue
    const v = post[i]
    const holderNode = post[d]
    let edgeName = '?'
    for (let e = firstEdge[holderNode]; e < firstEdge[holderNode + 1]; e += EF) {
      if (snap.edges[e + eTo] / NF !== v) continue
      const t = edgeTypes[snap.edges[e + eType]]
      const nameOrIndex = snap.edges[e + meta.edge_fields.indexOf('name_or_index')]
      edgeName = t === 'element' || t === 'hidden' ? `[${t}]` : snap.strings[nameOrIndex]
    }
    const key = `${ownGroup[d]} .${edgeName}`
    const entry = holders.get(key) ?? { count: 0, retained: 0 }
    entry.count++
    entry.retained += retained[i]
    holders.set(key, entry)
  }
  process.stdout.write(`\nwhat holds ${values.who}:\n`)
  for (const [key, entry] of [...holders.entries()].sort((a, b) => b[1].retained - a[1].retained).slice(0, Number(values.top))) {
    process.stdout.write(`${mb(entry.retained).padStart(11)} ${String(entry.count).padStart(9)}  ${key}\n`)
  }
}

if (values.tree !== undefined) {
  const minBytes = Number(values.tree) * 1048576
  const children = new Map<number, number[]>()
  for (let i = 0; i < post.length; i++) {
    if (i === rootPo || idom[i] < 0) continue
    const list = children.get(idom[i])
    if (list === undefined) children.set(idom[i], [i])
    else list.push(i)
  }
  const nameField = meta.edge_fields.indexOf('name_or_index')
  /** The name of the edge from a dominator to a node it holds directly; '~' when it holds it through others. */
  const edgeFrom = (from: number, to: number): string => {
    for (let e = firstEdge[from]; e < firstEdge[from + 1]; e += EF) {
      if (snap.edges[e + eTo] / NF !== to) continue
      const t = edgeTypes[snap.edges[e + eType]]
      return t === 'element' || t === 'hidden' ? '[]' : `.${snap.strings[snap.edges[e + nameField]]}`
    }
    return '~'
  }
  // members of one group under one parent, taken together, then their children together
  const walk = (members: number[], depth: number): void => {
    const byGroup = new Map<string, number[]>()
    for (const m of members) {
      for (const c of children.get(m) ?? []) {
        const key = `${edgeFrom(post[m], post[c])} ${ownGroup[c]}`
        const list = byGroup.get(key)
        if (list === undefined) byGroup.set(key, [c])
        else list.push(c)
      }
    }
    const sized = [...byGroup.entries()].map(([g, list]) => ({ g, list, bytes: list.reduce((sum, c) => sum + retained[c], 0) }))
    for (const { g, list, bytes } of sized.sort((a, b) => b.bytes - a.bytes)) {
      if (bytes < minBytes) break
      process.stdout.write(`${'  '.repeat(depth)}${mb(bytes)} MB  ${list.length} x ${g}${perBmc === undefined ? '' : `  (${Math.round(bytes / perBmc)} B/BMC)`}\n`)
      if (depth < 12) walk(list, depth + 1)
    }
  }
  process.stdout.write('\ndominator tree:\n')
  walk([rootPo], 0)
}

if (values.pool) {
  const nameField = meta.edge_fields.indexOf('name_or_index')
  const nodeName = (v: number): string => snap.strings[snap.nodes[v * NF + nName]]
  /** The name of the strong edge from `from` to `to`. */
  const edgeName = (from: number, to: number): string => {
    for (let e = firstEdge[from]; e < firstEdge[from + 1]; e += EF) {
      if (snap.edges[e + eTo] / NF !== to || !strong(e)) continue
      const t = edgeTypes[snap.edges[e + eType]]
      return t === 'element' || t === 'hidden' ? '[]' : `.${snap.strings[snap.edges[e + nameField]]}`
    }
    return '?'
  }
  const POOL_SIZE = 8192
  let slabs = 0
  const holders = new Map<string, number>()
  for (let v = 0; v < n; v++) {
    if (order[v] < 0 || nodeName(v) !== 'ArrayBuffer') continue
    let store = 0
    for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += EF) {
      const w = snap.edges[e + eTo] / NF
      if (nodeName(w) === 'system / JSArrayBufferData') store += snap.nodes[w * NF + nSize]
    }
    if (store !== POOL_SIZE) continue
    slabs++
    // its views (Buffers cut from it), and who holds each view
    for (let p = predStart[v]; p < predStart[v + 1]; p++) {
      const view = preds[p]
      if (edgeName(view, v) !== '.buffer') continue
      for (let q = predStart[view]; q < predStart[view + 1]; q++) {
        const holder = preds[q]
        const key = `${groupOf(holder)} ${edgeName(holder, view)}`
        holders.set(key, (holders.get(key) ?? 0) + 1)
      }
    }
  }
  process.stdout.write(`\nBuffer pool slabs kept alive: ${slabs} (${mb(slabs * POOL_SIZE)} MB${perBmc === undefined ? '' : `, ${Math.round(slabs * POOL_SIZE / perBmc)} B/BMC`}); the Buffers cut from them, by holder:\n`)
  for (const [key, count] of [...holders.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    process.stdout.write(`${String(count).padStart(9)}  ${key}\n`)
  }
}
