import type { KinesisConfig } from './types.js'

/**
 * The Kinesis target in words, for the start line, every CLI command and their errors: where the
 * records go, and which setting chose it, so that a region left in a shell profile never sends a
 * development gateway to real AWS unnoticed.
 */

/** Where: "the embedded development server at http://127.0.0.1:4567", "http://localhost:4566", "AWS Kinesis in eu-west-1". */
export function describeTarget (kinesis: KinesisConfig): string {
  if (kinesis.mode === 'embedded') return `the embedded development server at ${kinesis.endpoint ?? ''}`
  if (kinesis.mode === 'endpoint') return kinesis.endpoint ?? ''
  return `AWS Kinesis in ${kinesis.region}`
}

/** Why: the setting and its value ("AWS_DEFAULT_REGION=eu-west-1"), or what was not set. */
export function targetReason (kinesis: KinesisConfig): string {
  const chosenBy = kinesis.chosenBy ?? 'default'
  switch (chosenBy) {
    case 'KINESIS_MODE': return `KINESIS_MODE=${kinesis.mode}`
    case 'KINESIS_ENDPOINT': return `KINESIS_ENDPOINT=${kinesis.endpoint ?? ''}`
    case 'kinesis.endpoint': return 'kinesis.endpoint in the configuration file'
    case 'AWS_REGION':
    case 'AWS_DEFAULT_REGION': return `${chosenBy}=${kinesis.region}`
    case 'kinesis.region': return 'kinesis.region in the configuration file'
    case 'default': return 'none of KINESIS_MODE, KINESIS_ENDPOINT, AWS_REGION, AWS_DEFAULT_REGION is set'
  }
}

/** "AWS Kinesis in eu-west-1 (chosen by AWS_DEFAULT_REGION=eu-west-1)", with any settings ignored. */
export function targetSummary (kinesis: KinesisConfig): string {
  const why = (kinesis.chosenBy ?? 'default') === 'default' ? targetReason(kinesis) : `chosen by ${targetReason(kinesis)}`
  const ignored = (kinesis.ignored ?? []).length > 0 ? `; ignored: ${(kinesis.ignored ?? []).join(', ')}` : ''
  return `${describeTarget(kinesis)} (${why}${ignored})`
}

/**
 * In development, a target other than the embedded server that an AWS variable chose (typically
 * set in a shell profile for other tools) deserves a warning that says how to go back.
 * Explicit choices (KINESIS_MODE, KINESIS_ENDPOINT, the file) are what the user asked for.
 */
export function leftEmbeddedWarning (kinesis: KinesisConfig, production: boolean): string | undefined {
  if (production || (kinesis.chosenBy !== 'AWS_REGION' && kinesis.chosenBy !== 'AWS_DEFAULT_REGION')) return undefined
  return `using real AWS Kinesis in ${kinesis.region}, chosen by ${targetReason(kinesis)} in the environment. ` +
    'For the embedded development server instead, set KINESIS_MODE=embedded (or unset the variable)'
}
