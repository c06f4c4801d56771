import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis'
import { stringify } from 'yaml'
import t, { type Test } from 'tap'
import { uniqueStream } from '../helpers/gateway.js'
import { startKinesalite, startKinesisLocal } from '../helpers/kinesis-servers.js'
import { runCli } from '../helpers/run-cli.js'
import { testKinesisClient } from '../helpers/stream-reader.js'

const ANY_SCHEMA = fileURLToPath(new URL('../fixtures/schemas/any.json', import.meta.url))

function configFile (t: Test, channels: Record<string, string>, kinesis: Record<string, unknown> = {}): string {
  const file = join(t.testdir({}), 'kinesis-gateway.yaml')
  const entries = Object.fromEntries(Object.entries(channels).map(([name, stream]) => [name, { stream, schema: ANY_SCHEMA }]))
  writeFileSync(file, stringify({ kinesis, channels: entries }))
  return file
}

/** The data rows of the printed table, as arrays of cells. */
function rows (stdout: string): string[][] {
  return stdout.split('\n').slice(2).filter((l) => l !== '').map((l) => l.split(/\s{2,}/))
}

t.test('kinesalite: check reports missing streams, create makes them with the shard count, check then passes', async (t) => {
  const kinesis = await startKinesalite()
  t.teardown(() => kinesis.close())
  const client = testKinesisClient(kinesis.endpoint)
  t.teardown(() => client.destroy())
  const [a, b] = [uniqueStream(), uniqueStream()]
  // Two channels share stream a: it is listed (and created) once.
  const file = configFile(t, { orders: a, refunds: a, clicks: b })
  const env = { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint }

  const before = await runCli(['streams', 'check'], { env })
  t.equal(before.code, 1)
  t.same(rows(before.stdout), [[a, 'MISSING', '-', '-', 'orders,refunds'], [b, 'MISSING', '-', '-', 'clicks']])
  t.match(before.stderr, `2 of 2 stream(s) not ACTIVE: ${a} (MISSING), ${b} (MISSING). Fix: run \`kinesis-gateway streams create\``)

  const create = await runCli(['streams', 'create', '--shards', '3'], { env })
  t.equal(create.code, 0, create.stderr)
  t.match(create.stdout, `streams on ${kinesis.endpoint}:\nSTREAM`)
  t.same(rows(create.stdout), [[a, 'ACTIVE', 'PROVISIONED', '3', 'orders,refunds', 'created'], [b, 'ACTIVE', 'PROVISIONED', '3', 'clicks', 'created']])
  for (const stream of [a, b]) {
    const summary = (await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary
    t.equal(summary?.StreamStatus, 'ACTIVE')
    t.equal(summary?.OpenShardCount, 3, `${stream} has 3 shards`)
  }

  const after = await runCli(['streams', 'check'], { env })
  t.equal(after.code, 0, after.stderr)
  t.same(rows(after.stdout).map((r) => r[1]), ['ACTIVE', 'ACTIVE'])

  // Running create again changes nothing; the configured shard count applies without --shards.
  const c = uniqueStream()
  const again = await runCli(['streams', 'create'], { env: { ...env, GATEWAY_CONFIG: configFile(t, { orders: a, more: c }, { shards: 2 }) } })
  t.equal(again.code, 0, again.stderr)
  t.same(rows(again.stdout), [[a, 'ACTIVE', 'PROVISIONED', '3', 'orders', 'existed'], [c, 'ACTIVE', 'PROVISIONED', '2', 'more', 'created']])

  // kinesalite has no on-demand mode: the refusal says so.
  const onDemand = await runCli(['streams', 'create', '--on-demand'], { env: { ...env, GATEWAY_CONFIG: configFile(t, { x: uniqueStream() }) } })
  t.equal(onDemand.code, 1)
  t.match(onDemand.stderr, /refused an on-demand stream .*kinesalite have no on-demand mode: use --shards N/)
})

t.test('usage errors and an unreachable endpoint', async (t) => {
  const file = configFile(t, { events: 'events' })
  const both = await runCli(['streams', 'create', '--shards', '2', '--on-demand'], { env: { GATEWAY_CONFIG: file } })
  t.equal(both.code, 2)
  t.match(both.stderr, '--shards and --on-demand exclude each other')
  const noAction = await runCli(['streams', 'delete'], { env: { GATEWAY_CONFIG: file } })
  t.equal(noAction.code, 2)
  t.match(noAction.stderr, 'streams needs one action, create or check')
  const down = await runCli(['streams', 'check'], { env: { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: 'http://127.0.0.1:9' } })
  t.equal(down.code, 1)
  t.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:9 \(chosen by KINESIS_ENDPOINT=http:\/\/127\.0\.0\.1:9\): ECONNREFUSED/)
})

t.test('kinesis-local: --on-demand creates on-demand streams where the server has the mode', async (t) => {
  // The helper passes INITIALIZE_STREAMS through, and kinesis-local refuses an empty one: start with one other stream.
  const kinesis = await startKinesisLocal([uniqueStream('other')])
  t.teardown(() => kinesis.close())
  const stream = uniqueStream()
  const env = { GATEWAY_CONFIG: configFile(t, { events: stream }), KINESIS_ENDPOINT: kinesis.endpoint }
  const create = await runCli(['streams', 'create', '--on-demand'], { env, timeoutMs: 60_000 })
  t.equal(create.code, 0, create.stderr)
  const [row] = rows(create.stdout)
  t.equal(row?.[0], stream)
  t.equal(row?.[1], 'ACTIVE')
  t.equal(row?.[2], 'ON_DEMAND')
  t.equal(row?.[5], 'created')
  const check = await runCli(['streams', 'check'], { env })
  t.equal(check.code, 0, check.stderr)
})
