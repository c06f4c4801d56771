/** A configuration that cannot run. Each problem names the file, the key and the fix. */
export class ConfigError extends Error {
  readonly problems: readonly string[]

  constructor (problems: readonly string[]) {
    super(problems.length === 1
      ? `invalid configuration: ${problems[0]}`
      : `invalid configuration (${problems.length} problems):\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}
