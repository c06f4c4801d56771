import { readFile } from 'node:fs/promises'
import fastifySwagger, { type StaticDocumentSpec } from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { parse as parseYaml } from 'yaml'

/** The document test/openapi.test.ts checks against the running app, beside dist/ and src/ alike. */
const DOCUMENT = new URL('../../openapi.yaml', import.meta.url)
export const DOCS_PATH = '/docs'

/**
 * The API, served: GET /openapi.yaml (the file as it is in the repository), GET /openapi.json
 * (the same document), and /docs, Swagger UI (@fastify/swagger-ui, its files served locally)
 * rendering that document. @fastify/swagger runs in static mode: it serves the existing
 * document and generates nothing from the routes. Public on purpose: the document says what
 * partners may call, nothing about this instance. A missing file (a trimmed image) turns the
 * three routes off with a warning rather than stopping the gateway.
 */
export async function apiDocsRoutes (app: FastifyInstance): Promise<void> {
  let text: string
  try {
    text = await readFile(DOCUMENT, 'utf8')
  } catch (err) {
    app.log.warn({ err }, 'openapi.yaml not found beside the gateway: /openapi.json, /openapi.yaml and /docs are off')
    return
  }
  const document = parseYaml(text) as StaticDocumentSpec['document']
  const json = JSON.stringify(document)
  await app.register(fastifySwagger, { mode: 'static', specification: { document } })
  await app.register(fastifySwaggerUi, { routePrefix: DOCS_PATH, logLevel: 'silent', uiConfig: { deepLinking: true } })
  app.get('/openapi.json', { logLevel: 'silent' }, async (_request, reply) => await reply.type('application/json; charset=utf-8').header('cache-control', 'no-cache').send(json))
  app.get('/openapi.yaml', { logLevel: 'silent' }, async (_request, reply) => await reply.type('application/yaml; charset=utf-8').header('cache-control', 'no-cache').send(text))
}
