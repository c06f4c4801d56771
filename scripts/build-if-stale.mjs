#!/usr/bin/env node
// Builds dist/ (tsc -p tsconfig.build.json, incremental) only when a source is newer than the last
// build: `npm start` (prestart) then starts in well under a second instead of recompiling the
// whole project every time, and `npm install` / `npm ci` (prepare) leave a working CLI behind.
// Plain JavaScript on purpose: it runs before anything is compiled.
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const dist = join(root, 'dist')
// tsc --incremental keeps its state here (tsconfig.build.json); inside dist/, so deleting dist/ resets it.
const stamp = join(dist, '.tsbuildinfo')
const cli = join(dist, 'cli', 'main.js')
const outputs = [join(dist, 'server.js'), cli]

/**
 * `npx kinesis-gateway` in the checkout runs package.json's bin through the shell, and npm marks
 * bins executable only for installed dependencies, never for the project itself: tsc writes 0644.
 */
function markCliExecutable () {
  if (existsSync(cli) && (statSync(cli).mode & 0o111) === 0) chmodSync(cli, 0o755)
}

if (!existsSync(join(root, 'src'))) process.exit(0) // an installed copy without sources: nothing to build

let tsc
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
} catch {
  // A production install (npm ci --omit=dev) has no TypeScript: it runs the dist/ it was given.
  if (outputs.every((f) => existsSync(f))) {
    markCliExecutable()
    process.exit(0)
  }
  process.stderr.write('kinesis-gateway: dist/ is missing and TypeScript is not installed. Fix: run `npm install` (with dev dependencies), then `npm run build`\n')
  process.exit(1)
}

function newestInput () {
  let newest = 0
  for (const file of ['tsconfig.json', 'tsconfig.build.json']) newest = Math.max(newest, statSync(join(root, file)).mtimeMs)
  for (const entry of readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs)
  }
  return newest
}

const force = process.argv.includes('--force')
const missing = outputs.some((f) => !existsSync(f))
if (!force && !missing && existsSync(stamp) && newestInput() <= statSync(stamp).mtimeMs) {
  markCliExecutable()
  process.exit(0)
}

// Outputs gone but the incremental state kept would make tsc believe there is nothing to emit.
if (missing) rmSync(stamp, { force: true })
process.stderr.write(`kinesis-gateway: building dist/ (${missing ? 'no build yet' : force ? 'forced' : 'sources changed since the last build'})\n`)
const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
if (run.status !== 0) process.exit(run.status ?? 1)
// tsc leaves its state file alone when nothing needed emitting (a touched, unchanged file): mark the build current.
const now = new Date()
if (existsSync(stamp)) utimesSync(stamp, now, now)
markCliExecutable()
