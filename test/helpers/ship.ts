/** Fast timings for the ship tests: the defaults (1 s linger and poll, 5 s rotate wait) only make the waits longer. */
export const FAST = ['--linger-ms', '50', '--poll-ms', '100', '--rotate-wait-ms', '300']

/** Lines as a file holds them, each ending in a newline. */
export const text = (ls: readonly string[]): string => ls.map((l) => l + '\n').join('')
