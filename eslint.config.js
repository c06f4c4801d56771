import neostandard from 'neostandard'

// neostandard: the Fastify ecosystem's style, with TypeScript support.
export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'coverage/**', 'bench/results/**'] }),
  {
    rules: {
      // `void promise` marks a deliberately unawaited promise (Fastify replies, timers).
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    // Module augmentation must repeat the generic parameter names of the augmented interface.
    files: ['src/front-door/*.ts'],
    rules: { '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^Context$' }] }
  }
]
