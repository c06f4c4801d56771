import { join } from 'node:path'
import t from 'tap'
import { REPO_ROOT, runCli } from '../helpers/run-cli.js'

t.test('the shipped configuration is valid: exit 0 and a summary of its channels', async (t) => {
  const run = await runCli(['check-config'], { cwd: REPO_ROOT })
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, `${join(REPO_ROOT, 'kinesis-gateway.yaml')}: OK, 1 channel`)
  t.match(run.stdout, '/v1/events -> stream events, schema schemas/events.json, partition key random, record envelope')
})

t.test('a good configuration with shared $ref definitions, passed as an argument; offline even with NODE_ENV=production', async (t) => {
  const dir = t.testdir({
    'gw.yaml': 'channels:\n  orders:\n    stream: orders\n    schema: schemas/order.json\n    partitionKey: /user_id\n  any:\n    stream: misc\n    schema: schemas/any.json\n    partitionKey: header:x-tenant\n',
    schemas: {
      'order.json': '{"$id":"order.json","type":"object","properties":{"user_id":{"$ref":"common.json#/$defs/userId"}}}',
      'common.json': '{"$id":"common.json","$defs":{"userId":{"type":"string","minLength":1}}}',
      'any.json': '{"type":"object"}'
    }
  })
  const run = await runCli(['check-config', join(dir, 'gw.yaml')], { env: { NODE_ENV: 'production' } })
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, 'OK, 2 channels')
  t.match(run.stdout, '/v1/orders -> stream orders, schema schemas/order.json, partition key /user_id')
  t.match(run.stdout, '/v1/any -> stream misc, schema schemas/any.json, partition key header:x-tenant')
  // GATEWAY_CONFIG is honoured the same way as by the server.
  const viaEnv = await runCli(['check-config'], { env: { GATEWAY_CONFIG: join(dir, 'gw.yaml') } })
  t.equal(viaEnv.code, 0, viaEnv.stderr)
})

t.test('every problem of a broken configuration is reported at once, with file, key and fix; exit 1', async (t) => {
  const dir = t.testdir({
    'gw.yaml': [
      'kinesis:',
      '  shardz: 2',
      'channels:',
      '  orders:',
      '    stream: "not a stream!"',
      '    schema: schemas/missing.json',
      '    record: json',
      '    partitionKey: user_id',
      '  Bad_Name:',
      '    stream: ok',
      '    schema: schemas/broken.json',
      '  refs:',
      '    stream: refs',
      '    schema: schemas/dangling.json',
      ''
    ].join('\n'),
    schemas: {
      'broken.json': '{"type": "object",',
      'dangling.json': '{"$id":"dangling.json","type":"object","properties":{"a":{"$ref":"nowhere.json#/x"}}}'
    }
  })
  const file = join(dir, 'gw.yaml')
  const run = await runCli(['check-config', file])
  t.equal(run.code, 1)
  t.equal(run.stdout, '')
  t.match(run.stderr, `${file}: `)
  const problems = run.stderr.split('\n').filter((l) => l.startsWith('  - '))
  const expected: Array<[RegExp, string]> = [
    [/kinesis\.shardz: unknown key\. Fix: remove it or check its spelling/, 'unknown key'],
    [/channels\.orders\.stream: must match pattern .* Fix: use a Kinesis stream name/, 'bad stream name'],
    [/channels\.orders\.record: must be one of "envelope", "raw"/, 'bad enum'],
    [/channels\.orders\.partitionKey: "user_id" is not a partition key source\. Fix: use "random"/, 'bad partition key, though the file has other problems'],
    [/channel name "Bad_Name" is not allowed\. Fix: use 1-64 lower-case letters/, 'bad channel name'],
    [/channels\.orders\.schema: file .*schemas\/missing\.json not found\. Fix: create it/, 'missing schema file, though the file has other problems'],
    [/schemas\/broken\.json: not a usable JSON Schema: .* Fix: correct the file/, 'schema that is not JSON'],
    [/schemas\/dangling\.json: cannot compile the schema of channel "refs": can't resolve reference nowhere\.json/, 'dangling $ref']
  ]
  for (const [pattern, what] of expected) t.ok(problems.some((p) => pattern.test(p)), what)
  t.equal(problems.length, expected.length, 'nothing else, nothing twice')
  t.match(run.stderr, `${problems.length} problems`)
})

t.test('problems found after the file validates (partition key) and environment overrides are reported too', async (t) => {
  const dir = t.testdir({
    'gw.yaml': 'channels:\n  a:\n    stream: a\n    schema: any.json\n    partitionKey: "user_id"\n  b:\n    stream: b\n    schema: any.json\n    partitionKey: "/x~2"\n',
    'any.json': '{"type":"object"}'
  })
  const run = await runCli(['check-config', join(dir, 'gw.yaml')], { env: { KINESIS_ENDPOINT: 'localhost:4566' } })
  t.equal(run.code, 1)
  t.match(run.stderr, /channels\.a\.partitionKey: "user_id" is not a partition key source\. Fix: use "random", a JSON pointer/)
  t.match(run.stderr, /channels\.b\.partitionKey: "\/x~2" is not a valid JSON pointer/)
  t.match(run.stderr, /KINESIS_ENDPOINT: "localhost:4566" is not an http\(s\) URL/)
})

t.test('a missing file, bad YAML and bad usage', async (t) => {
  const dir = t.testdir({ 'bad.yaml': 'channels:\n  a: [unclosed\n' })
  const missing = await runCli(['check-config', join(dir, 'nope.yaml')])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /nope\.yaml: not found\. Fix: set GATEWAY_CONFIG/)

  const yaml = await runCli(['check-config', join(dir, 'bad.yaml')])
  t.equal(yaml.code, 1)
  t.match(yaml.stderr, /bad\.yaml: not valid YAML\/JSON: .*Fix: correct the syntax/)

  const usage = await runCli(['check-config', 'a.yaml', 'b.yaml'])
  t.equal(usage.code, 2)
  t.match(usage.stderr, /at most one file/)
  const unknown = await runCli(['check-config', '--strict'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /Unknown option '--strict'/)
})
