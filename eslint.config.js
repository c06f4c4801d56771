import neostandard from 'neostandard'

// neostandard: the Fastify ecosystem's style, with TypeScript support.
export default neostandard({ ts: true, ignores: ['dist/**', 'coverage/**', 'bench/results/**'] })
