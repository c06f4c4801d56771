import t from 'tap'
import { startGateway, post, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { testKinesisClient, readAllRecords, waitForRecords } from '../helpers/stream-reader.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

t.test('POST /v1/:channel/validate checks events against the channel and writes nothing', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { orders: { stream, schema: 'schemas/order.json', partitionKey: '/user_id', maxEventsPerRequest: 3 } }
  })
  const good = { order_id: 'o1', user_id: 'u1', amount: 5 }
  const res = await post(`${gw.url}/v1/orders/validate`, JSON.stringify([good, { order_id: 'o2', amount: -1 }, 'text']))
  t.equal(res.status, 200)
  t.equal(res.json.valid, false)
  t.equal(res.json.events, 3)
  t.equal(res.json.passed, 1)
  t.equal(res.json.failed, 2)
  const errors = res.json.errors as Array<{ index: number, pointer: string, reason: string }>
  t.ok(errors.some((e) => e.index === 1 && e.pointer === '/user_id' && e.reason === 'is required'))
  t.ok(errors.some((e) => e.index === 1 && e.pointer === '/amount'))
  t.ok(errors.some((e) => e.index === 2 && e.reason === 'must be a JSON object'))

  const ok = await post(`${gw.url}/v1/orders/validate`, JSON.stringify(good))
  t.same(ok.json, { valid: true, events: 1, passed: 1, failed: 0, errors: [] })

  const nd = await post(`${gw.url}/v1/orders/validate`, `${JSON.stringify(good)}\n{"order_id":"x"}`, { 'content-type': 'application/x-ndjson' })
  t.equal(nd.json.failed, 1)

  const tooMany = await post(`${gw.url}/v1/orders/validate`, JSON.stringify([good, good, good, good]))
  t.equal(tooMany.status, 413, 'a request the real route would refuse is refused the same way')
  const malformed = await post(`${gw.url}/v1/orders/validate`, '{"order_id":')
  t.equal(malformed.status, 400)
  t.equal(malformed.json.code, 'GW_ERR_MALFORMED_BODY')
  const unknown = await post(`${gw.url}/v1/nope/validate`, '{}')
  t.equal(unknown.status, 404)

  // The real route then writes the valid event: the stream holds only that one.
  t.equal((await post(`${gw.url}/v1/orders`, JSON.stringify(good))).status, 200)
  await waitForRecords(reader, stream, 1)
  t.equal((await readAllRecords(reader, stream)).length, 1, 'the dry runs wrote nothing')
})
