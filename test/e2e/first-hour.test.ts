import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildIfStale, CLI, cleanEnv, ROOT, run, startProcess, startServer, waitForOutput, type Started } from '../helpers/built-gateway.js'
import { freePort } from '../helpers/kinesis-servers.js'

/**
 * The first hour of a newcomer, on the compiled build the install leaves behind (the prepare
 * script, run here as `npm install` runs it; a fresh clone plus `npm ci` is too slow for a test,
 * so this runs the checkout's own build and its `npx kinesis-gateway`):
 * - a developer shell with AWS variables, non-default ports, and the example configuration
 *   (aggregate: true on its first channel), kept on the embedded server by KINESIS_MODE=embedded;
 * - the start line says where records go and why; the AWS SDK's Node notice is not there;
 * - the commands printed at start work as printed, from a shell that still has the AWS variables;
 * - the CLI commands say their target and what chose it; a port in use is one line; the server
 *   and check-config list the same problems of the same file.
 */

await buildIfStale()

interface LogLine { level: number, msg: string, [key: string]: unknown }

function logLines (output: string): LogLine[] {
  return output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine)
}

async function stop (p: Started, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (p.child.exitCode !== null) return p.child.exitCode
  p.child.kill(signal)
  return await p.exited
}

/** A developer's shell: AWS settings for other tools, none of the machine's own files. */
const devShell = (extra: Record<string, string> = {}): NodeJS.ProcessEnv =>
  cleanEnv({ AWS_DEFAULT_REGION: 'eu-west-1', AWS_PROFILE: 'dev', LOG_FORMAT: 'json', ...extra })

t.test('the example configuration on embedded Kinesis in a shell with AWS variables: start line, printed commands, CLI, exit line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kgw-first-hour-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(join(ROOT, 'schemas'), join(dir, 'schemas'), { recursive: true })
  await cp(join(ROOT, 'kinesis-gateway.example.yaml'), join(dir, 'gateway.yaml'))
  const [port, kinesisPort] = [await freePort(), await freePort()]
  const config = join(dir, 'gateway.yaml')
  const server = startServer(devShell({ KINESIS_MODE: 'embedded', PORT: String(port), HOST: '127.0.0.1', KINESIS_LOCAL_PORT: String(kinesisPort), GATEWAY_CONFIG: config }))
  t.teardown(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL') })
  await waitForOutput(server, (o) => o.includes('npx kinesis-gateway tail'), 'the start hint')

  const lines = logLines(server.output())
  const start = lines.find((l) => / started on /.test(l.msg)) as LogLine
  t.match(start.msg, `writing to the embedded development server at http://127.0.0.1:${kinesisPort} (chosen by KINESIS_MODE=embedded; ignored: AWS_DEFAULT_REGION)`)
  t.match(start.kinesis, { mode: 'embedded', chosenBy: 'KINESIS_MODE=embedded', ignored: ['AWS_DEFAULT_REGION'] })
  t.notMatch(server.output(), /NodeVersionSupportWarning|upgrade to node >=22/, 'not the AWS SDK\'s 9-line notice')
  t.ok(lines.filter((l) => /AWS SDK/.test(l.msg)).length <= 1, 'at most one line of our own about the Node version')

  // The printed commands, run as printed by a shell from the same folder (which still has AWS_DEFAULT_REGION).
  const hint = (lines.find((l) => l.msg.includes('npx kinesis-gateway tail'))?.msg ?? '').split('\n').map((l) => l.trim())
  const curl = hint.find((l) => l.startsWith('curl ')) as string
  const tail = (hint.find((l) => l.includes('npx kinesis-gateway tail')) as string).replace(/\s+#.*$/, '')
  t.match(tail, `KINESIS_MODE=embedded KINESIS_LOCAL_PORT=${kinesisPort} GATEWAY_CONFIG=${config} npx kinesis-gateway tail events`)
  t.match(curl, `http://localhost:${port}/v1/events`)
  const shell = devShell()
  const follower = startProcess('sh', ['-c', tail], shell, { detached: true })
  t.teardown(() => { try { process.kill(-(follower.child.pid as number), 'SIGKILL') } catch { /* gone */ } })
  await waitForOutput(follower, (o) => o.includes('Ctrl-C to stop'), 'tail following')
  t.match(follower.output(), `stream events on the embedded development server at http://127.0.0.1:${kinesisPort} (chosen by KINESIS_MODE=embedded; ignored: AWS_DEFAULT_REGION)`)
  const posted = await run('sh', ['-c', `${curl} -s -w '\\n%{http_code}'`], { env: shell })
  t.equal(posted.stdout.trim().split('\n').pop(), '202', `the printed curl works (the example's events channel is ack: buffered): ${posted.stdout}`)
  await waitForOutput(follower, (o) => o.includes('"key1":"value1"'), 'the event in tail')
  const eventLine = follower.output().split('\n').find((l) => l.includes('"key1"')) as string
  t.match(JSON.parse(eventLine), { channel: 'events', data: { key1: 'value1' } }, 'the aggregated record is printed as the event\'s JSON line')
  process.kill(-(follower.child.pid as number), 'SIGINT')
  await follower.exited
  t.pass('Ctrl-C ends tail')

  // Every CLI command says where it goes and what chose it; --version works.
  const cli = async (args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number, stdout: string, stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env, cwd: ROOT })
      return { code: 0, stdout, stderr }
    } catch (err) {
      const e = err as { code: number, stdout: string, stderr: string }
      return { code: e.code, stdout: e.stdout, stderr: e.stderr }
    }
  }
  const here = { GATEWAY_CONFIG: config, KINESIS_LOCAL_PORT: String(kinesisPort) }
  const check = await cli(['streams', 'check'], devShell({ ...here, KINESIS_MODE: 'embedded' }))
  t.equal(check.code, 0, check.stderr)
  t.match(check.stderr, /^kinesis-gateway streams: check 2 streams on the embedded development server at .* \(chosen by KINESIS_MODE=embedded; ignored: AWS_DEFAULT_REGION\)/)
  const toAws = await cli(['tail', 'events', '--once'], devShell(here))
  t.equal(toAws.code, 1, 'without KINESIS_MODE the region sends the command to AWS (no credentials here: it stops before the network)')
  t.match(toAws.stderr, 'kinesis-gateway tail: stream events on AWS Kinesis in eu-west-1 (chosen by AWS_DEFAULT_REGION=eu-west-1)')
  t.match(toAws.stderr, /note: using real AWS Kinesis in eu-west-1.*set KINESIS_MODE=embedded/, 'and says how to get back')
  t.match(toAws.stderr, /AWS Kinesis in eu-west-1 \(chosen by AWS_DEFAULT_REGION=eu-west-1\): .*Fix: provide AWS credentials/)
  const offline = await cli(['check-config', config], devShell())
  t.equal(offline.code, 0, offline.stderr)
  t.match(offline.stdout, 'Kinesis with this environment: AWS Kinesis in eu-west-1 (chosen by AWS_DEFAULT_REGION=eu-west-1)')
  for (const out of [check, toAws, offline]) t.notMatch(out.stdout + out.stderr, /NodeVersionSupportWarning|\n\s+at /, 'no SDK notice, no stack')
  const version = await run('npx', ['kinesis-gateway', '--version'], { env: devShell(), cwd: ROOT })
  t.match(version.stdout, /^kinesis-gateway \d+\.\d+\.\d+ \(node v\d+/, 'npx kinesis-gateway --version, from the checkout')

  // A second gateway on the same port (the default configuration: no spool), and one on the same spool: one line each.
  const second = startServer(devShell({ KINESIS_MODE: 'embedded', PORT: String(port), HOST: '127.0.0.1', KINESIS_LOCAL_PORT: String(await freePort()) }))
  t.equal(await second.exited, 1)
  t.match(second.output(), `kinesis-gateway: cannot start: port ${port} on 127.0.0.1 (PORT) is already in use`)
  t.notMatch(second.output(), /\n\s+at /, 'no stack trace')
  const third = startServer(devShell({ KINESIS_MODE: 'embedded', PORT: String(await freePort()), HOST: '127.0.0.1', KINESIS_LOCAL_PORT: String(await freePort()), GATEWAY_CONFIG: config }))
  t.equal(await third.exited, 1)
  t.match(third.output(), /kinesis-gateway: cannot start: the spool folder .* is in use by process \d+\. Fix: .*\(exit 1\)\n$/)
  t.notMatch(third.output(), /\n\s+at /, 'no stack trace')

  t.equal(await stop(server), 0, 'SIGTERM: exit 0')
  const last = logLines(server.output()).pop()
  t.match(last, { msg: /^kinesis-gateway stopped: SIGTERM.*\(exit 0\)$/, exitCode: 0 }, 'the last line says why it stopped')
})

t.test('the server refusing a configuration lists the same problems as check-config', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kgw-first-hour-bad-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(join(ROOT, 'schemas'), join(dir, 'schemas'), { recursive: true })
  await writeFile(join(dir, 'schemas', 'broken.json'), '{ not json')
  const file = join(dir, 'gateway.yaml')
  // Problems of the file itself (an unknown key, a bad value) and of what it names (a partition key, schemas).
  await writeFile(file, [
    'server: { bodyLimitBytes: -5, nope: 1 }',
    'channels:',
    '  orders: { stream: orders, schema: schemas/missing.json, partitionKey: user, ack: maybe }',
    '  clicks: { stream: "bad stream", schema: schemas/broken.json }',
    '  events: { stream: events, schema: schemas/events.json, partitionKey: "/a~2" }',
    ''
  ].join('\n'))
  const server = startServer(cleanEnv({ GATEWAY_CONFIG: file, PORT: String(await freePort()), KINESIS_LOCAL_PORT: String(await freePort()) }))
  t.equal(await server.exited, 1)
  let checked = ''
  try {
    await run(process.execPath, [CLI, 'check-config', file], { env: cleanEnv({}), cwd: ROOT })
  } catch (err) {
    checked = (err as { stderr: string }).stderr
  }
  const problems = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('  - ')).sort()
  t.ok(problems(checked).length >= 7, `check-config finds them all: ${checked}`)
  t.same(problems(server.output()), problems(checked), 'the same list, word for word')
  t.match(server.output(), /kinesis-gateway: not started \(exit 1\)\n$/)
})
