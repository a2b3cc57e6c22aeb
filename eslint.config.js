import neostandard from 'neostandard'

// Fastify's own style (neostandard, as fastify/demo uses it), over the
// TypeScript sources, the benchmarks, the tests and the dashboard's modules.
export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tap/**']
  })
]
