#!/usr/bin/env node
import { quietSdkNodeWarning } from '../config/load-config.js'
import { packageVersion } from '../ops/version.js'
import { checkConfigCommand, CHECK_CONFIG_USAGE } from './check-config-command.js'
import { shipCommand, SHIP_USAGE } from './ship-command.js'
import { explainError, EXIT_OK, EXIT_USAGE, type CliIo } from './cli-common.js'
import { streamsCommand, STREAMS_USAGE } from './streams-command.js'
import { tailCommand, TAIL_USAGE } from './tail-command.js'

/** The operator's command line: `kinesis-gateway <command> ...`. One file per command. */
const COMMANDS: Record<string, { run: (args: string[], io: CliIo) => Promise<number>, usage: string }> = {
  tail: { run: tailCommand, usage: TAIL_USAGE },
  'check-config': { run: checkConfigCommand, usage: CHECK_CONFIG_USAGE },
  ship: { run: shipCommand, usage: SHIP_USAGE },
  streams: { run: streamsCommand, usage: STREAMS_USAGE }
}

const USAGE = `usage: kinesis-gateway <command> [options]
commands:
  tail <channel-or-stream>   read a stream back, decoded (KPL aggregates unpacked into their events)
  check-config [file]        validate a configuration and its schemas offline
  streams create|check       create or check the configured streams
  ship <channel> <files>...  follow log files and send their lines to a channel through the gateway
  --version                  print the version
Configuration comes from the same environment as the server (GATEWAY_CONFIG, KINESIS_MODE, KINESIS_ENDPOINT,
AWS_REGION, AWS_DEFAULT_REGION, KINESIS_LOCAL_PORT, ...); each command says which Kinesis it uses and why.
Run \`kinesis-gateway <command> --help\` for a command's options.`

// The AWS SDK's 9-line Node-version notice would open every command's output: off (the server says it in one line).
quietSdkNodeWarning()

async function main (argv: string[]): Promise<number> {
  const [name, ...args] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n')
    return name === undefined ? EXIT_USAGE : EXIT_OK
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`kinesis-gateway ${await packageVersion()} (node ${process.version})\n`)
    return EXIT_OK
  }
  const command = COMMANDS[name]
  if (command === undefined) {
    process.stderr.write(`kinesis-gateway: unknown command "${name}"\n${USAGE}\n`)
    return EXIT_USAGE
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(command.usage + '\n')
    return EXIT_OK
  }

  // Ctrl-C (or SIGTERM) stops a following tail cleanly: the current call is aborted and the command returns.
  const controller = new AbortController()
  const stop = (): void => {
    if (controller.signal.aborted) process.exit(130) // a second Ctrl-C: leave at once
    controller.abort()
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  // `tail ... | head` closes the pipe: that is a normal end, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_OK)
    throw err
  })
  try {
    return await command.run(args, { stdout: process.stdout, stderr: process.stderr, signal: controller.signal })
  } catch (err) {
    const known = explainError(err, undefined)
    if (known !== undefined) {
      process.stderr.write(`kinesis-gateway ${name}: ${known.message}\n`)
      return known.exitCode
    }
    process.stderr.write(`kinesis-gateway ${name}: ${(err as Error).stack ?? String(err)}\n`)
    return 1
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
}, (err: unknown) => {
  process.stderr.write(`kinesis-gateway: ${String(err)}\n`)
  process.exitCode = 1
})
