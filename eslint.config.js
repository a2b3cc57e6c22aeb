import neostandard from 'neostandard'

// The browser's globals, as neostandard's documented `env` option resolves
// them, kept for the dashboard alone (the rest of the tree runs in Node).
const browserGlobals = neostandard({ env: ['browser'] })
  .find((config) => config.name === 'neostandard/globals').languageOptions.globals

// Fastify's own style (neostandard, as fastify/demo uses it), over the
// TypeScript sources, the benchmarks, the tests and the dashboard's modules.
export default [
  // build output, installed packages and what test runs leave behind
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tap/**', 'logs/**', 'test-artifacts/**'] },
  ...neostandard({ ts: true }),
  {
    // The dashboard's modules run in the browser.
    files: ['dashboard/**/*.js'],
    languageOptions: { globals: browserGlobals }
  },
  {
    rules: {
      // `void promise` as a statement marks a promise left unawaited on purpose
      // (a background pump, a timer callback); standard forbids `void` only
      // because plain JavaScript has no floating-promise check to satisfy.
      'no-void': ['error', { allowAsStatement: true }],
      // A `let` read by a closure made before its one assignment (a logger or
      // fake that exists only once the object holding the closure is built) is
      // late-bound, not a constant: const cannot express it.
      'prefer-const': ['error', { destructuring: 'all', ignoreReadBeforeAssign: true }]
    }
  }
]
