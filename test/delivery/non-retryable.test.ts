import { DeleteStreamCommand } from '@aws-sdk/client-kinesis'
import t from 'tap'
import { post, startGateway, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { testKinesisClient } from '../helpers/stream-reader.js'

// Non-retryable failures fail fast: a deleted stream (ResourceNotFoundException) is reported
// at once, not retried until the record deadline.

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const client = testKinesisClient(kinesis.endpoint)
t.teardown(() => client.destroy())

t.test('ResourceNotFoundException (stream deleted) fails fast with the per-event error code', async (t) => {
  const stream = uniqueStream('gone')
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream } },
    // A long deadline: only fail-fast can answer before it.
    extra: { delivery: { recordDeadlineMs: 60_000 }, shutdown: { deadlineMs: 1000 } }
  })
  t.equal((await post(`${gw.url}/v1/events`, '{"before":1}')).status, 200)
  await client.send(new DeleteStreamCommand({ StreamName: stream }))
  const started = Date.now()
  const res = await post(`${gw.url}/v1/events`, '[{"after":1},{"after":2}]')
  t.equal(res.status, 503)
  t.equal(res.json.code, 'GW_ERR_NOT_DELIVERED')
  const events = res.json.events as Array<{ written: boolean, errorCode: string }>
  t.same(events.map((e) => [e.written, e.errorCode]), [[false, 'ResourceNotFoundException'], [false, 'ResourceNotFoundException']])
  t.ok(Date.now() - started < 30_000, 'answered long before the 60 s record deadline')
})
