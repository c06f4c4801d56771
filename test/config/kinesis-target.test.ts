import t from 'tap'
import { describeTarget, leftEmbeddedWarning, targetSummary } from '../../src/config/kinesis-target.js'
import { parseConfig } from '../../src/config/load-config.js'

// The words the start line and every CLI command use for the Kinesis target and what chose it.

const yaml = 'channels:\n  events: { stream: events, schema: schemas/events.json }\n'
const kinesisOf = (env: Record<string, string>): ReturnType<typeof parseConfig>['kinesis'] => parseConfig(yaml, '/srv/gw.yaml', env).kinesis

t.test('each target names the setting and value that chose it', async (t) => {
  t.equal(targetSummary(kinesisOf({})),
    'the embedded development server at http://127.0.0.1:4567 (none of KINESIS_MODE, KINESIS_ENDPOINT, AWS_REGION, AWS_DEFAULT_REGION is set)')
  t.equal(targetSummary(kinesisOf({ AWS_DEFAULT_REGION: 'eu-west-1' })), 'AWS Kinesis in eu-west-1 (chosen by AWS_DEFAULT_REGION=eu-west-1)')
  t.equal(targetSummary(kinesisOf({ KINESIS_ENDPOINT: 'http://localhost:4566' })), 'http://localhost:4566 (chosen by KINESIS_ENDPOINT=http://localhost:4566)')
  t.equal(targetSummary(kinesisOf({ KINESIS_MODE: 'embedded', AWS_REGION: 'eu-west-1', KINESIS_LOCAL_PORT: '4600' })),
    'the embedded development server at http://127.0.0.1:4600 (chosen by KINESIS_MODE=embedded; ignored: AWS_REGION)')
  t.equal(describeTarget(kinesisOf({ AWS_REGION: 'us-west-2' })), 'AWS Kinesis in us-west-2')
})

t.test('development taken to AWS by an AWS variable gets a warning with the way back; explicit choices do not', async (t) => {
  t.match(leftEmbeddedWarning(kinesisOf({ AWS_DEFAULT_REGION: 'eu-west-1' }), false), /real AWS Kinesis in eu-west-1, chosen by AWS_DEFAULT_REGION=eu-west-1.*KINESIS_MODE=embedded/)
  t.match(leftEmbeddedWarning(kinesisOf({ AWS_REGION: 'eu-west-1' }), false), /AWS_REGION=eu-west-1/)
  t.equal(leftEmbeddedWarning(kinesisOf({ AWS_REGION: 'eu-west-1' }), true), undefined, 'production: AWS is the point')
  t.equal(leftEmbeddedWarning(kinesisOf({ KINESIS_MODE: 'aws', AWS_REGION: 'eu-west-1' }), false), undefined, 'KINESIS_MODE=aws is explicit')
  t.equal(leftEmbeddedWarning(kinesisOf({ KINESIS_ENDPOINT: 'http://localhost:4566' }), false), undefined)
  t.equal(leftEmbeddedWarning(kinesisOf({}), false), undefined)
})
