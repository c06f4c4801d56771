import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { launchBrowser, systemChromium } from '../helpers/browser.js'
import { pidsServing, startClusterGateway } from '../helpers/cluster-gateway.js'
import { uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

// The few DOM shapes the page functions below use (they run in the browser; the project's
// TypeScript has no DOM library).
interface PageElement { textContent: string | null, dataset: Record<string, string>, querySelector: (selector: string) => PageElement | null }
declare const document: { querySelector: (selector: string) => PageElement | null, querySelectorAll: (selector: string) => ArrayLike<PageElement> }

const chromiumPath = systemChromium()
// Screenshots for the README go to docs/ when asked for (KGW_SCREENSHOTS=1), else to a temporary folder.
const SHOTS = process.env.KGW_SCREENSHOTS === '1' ? fileURLToPath(new URL('../../docs/', import.meta.url)) : mkdtempSync(join(tmpdir(), 'kgw-shots-'))

async function send (url: string, body: string): Promise<number> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', connection: 'close' } })
  await res.arrayBuffer()
  return res.status
}

t.test('the console in a real browser: live rates, rejections with their pointer, the form, both workers', {
  skip: chromiumPath === undefined ? 'no chromium found (/usr/bin/chromium): apt-get install chromium (.ci/run does)' : false,
  timeout: 240_000
}, async (t) => {
  const kinesis = await startKinesalite()
  t.teardown(() => kinesis.close())
  const reader = testKinesisClient(kinesis.endpoint)
  t.teardown(() => reader.destroy())
  const events = uniqueStream()
  const orders = uniqueStream()
  const gw = await startClusterGateway(t, {
    dir: mkdtempSync(join(tmpdir(), 'kgw-console-')),
    endpoint: kinesis.endpoint,
    workers: 2,
    channels: {
      events: { stream: events, record: 'raw' },
      orders: { stream: orders, schema: 'schemas/order.json', partitionKey: '/user_id', record: 'raw' },
      // Limits are per worker without Redis: 2 at once, then 1 a second, on each.
      limited: { stream: events, rateLimit: { perSecond: 1, burst: 2 } }
    }
  })
  const context = await launchBrowser(t, chromiumPath as string)
  const page = await context.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (err) => { pageErrors.push(err.message) })
  await page.goto(`${gw.url}/console`)
  await page.waitForFunction(() => document.querySelector('#workers')?.textContent === '2', undefined, { timeout: 30_000 })
  t.pass('the page shows two workers')

  // Valid traffic for a few seconds, on fresh connections (both workers take some).
  let sent = 0
  let accepted = 0
  const running = { stop: false }
  const traffic = (async () => {
    while (!running.stop) {
      const batch = await Promise.all(Array.from({ length: 4 }, async () => await send(`${gw.url}/v1/events`, JSON.stringify({ n: sent++ }))))
      accepted += batch.filter((s) => s === 200).length
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })()
  const cell = (channel: string, field: string): string => `#channels tr[data-channel="${channel}"] [data-field="${field}"]`
  const positive = async (selector: string): Promise<number> => {
    const handle = await page.waitForFunction((sel) => {
      const text = document.querySelector(sel)?.textContent ?? ''
      const n = Number(text.replace(/[^0-9.]/g, ''))
      return text !== '—' && n > 0 ? n : false
    }, selector, { timeout: 30_000, polling: 250 })
    return await handle.jsonValue() as number
  }
  t.ok(await positive(cell('events', 'acceptedRate')) > 0, 'accepted events/s rise')
  t.ok(await positive(cell('events', 'requestsRate')) > 0, 'requests/s rise')
  t.match(await page.textContent(cell('events', 'p50')), /ms$/, 'p50 latency shown')
  t.match(await page.textContent(cell('events', 'p99')), /ms$/, 'p99 latency shown')
  t.ok(await positive(`#streams tr[data-stream="${events}"] [data-field="sentRate"]`) > 0, 'records/s sent rise on the stream')
  t.ok(await positive(`#streams tr[data-stream="${events}"] [data-field="units"]`) > 0, 'PUT payload units counted')
  await page.waitForFunction((stream) => /shard/.test(document.querySelector(`#streams tr[data-stream="${stream}"] [data-field="shards"]`)?.textContent ?? ''), events, { timeout: 30_000 })
  t.pass('the hottest shard is shown with its share')

  // Invalid and throttled traffic.
  t.equal(await send(`${gw.url}/v1/orders`, '{"order_id":"o-1","user_id":"u-1","amount":-5}'), 400, 'an invalid order is refused')
  const throttled = await Promise.all(Array.from({ length: 12 }, async () => await send(`${gw.url}/v1/limited`, '{"a":1}')))
  t.ok(throttled.includes(429), `some requests throttled (${throttled.filter((s) => s === 429).length} of 12)`)
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#rejections tbody tr')).some((row) =>
    row.querySelector('[data-field="code"]')?.textContent === 'GW_ERR_INVALID_EVENTS' && (row.querySelector('[data-field="errors"]')?.textContent ?? '').includes('/amount')),
  undefined, { timeout: 30_000 })
  t.pass('the rejected event appears with its pointer (/amount)')
  const excerpt = await page.$$eval('#rejections tbody tr', (rows) => rows.map((r) => r.querySelector('[data-field="excerpt"]')?.textContent ?? ''))
  t.ok(excerpt.some((e) => e.includes('"amount":-5')), 'with a short excerpt of the event')
  t.ok(await positive(cell('limited', 'throttled')) > 0, 'throttled requests counted on the channel')
  t.ok(await positive(cell('orders', 'eventsRejected')) > 0, 'rejected events counted on the channel')
  await page.screenshot({ path: join(SHOTS, 'console.png'), fullPage: true })

  // Stop the traffic: the page's total is every accepted event, whichever worker took it.
  running.stop = true
  await traffic
  t.equal(pidsServing(gw.output(), '/v1/:channel').size, 2, 'both workers served the traffic')
  await page.waitForFunction((n) => document.querySelector('#channels tr[data-channel="events"] [data-field="eventsAccepted"]')?.textContent === n.toLocaleString('en-US'),
    accepted, { timeout: 30_000 })
  t.pass(`the page's accepted total is the whole gateway's (${accepted}, over both workers)`)

  // The form: the prefilled example passes the dry run; an edited one fails with its pointer; send writes it.
  await page.selectOption('#try-channel', 'orders')
  const example = await page.inputValue('#try-event')
  t.match(JSON.parse(example), { order_id: String, user_id: String, amount: Number }, 'prefilled with a valid example from the schema')
  const answer = async (button: string): Promise<{ status: string, text: string }> => {
    await page.evaluate(() => { const out = document.querySelector('#try-result') as PageElement; out.dataset.status = ''; out.textContent = '' })
    await page.click(button)
    await page.waitForFunction(() => document.querySelector('#try-result')?.dataset.status !== '', undefined, { timeout: 30_000 })
    return { status: await page.getAttribute('#try-result', 'data-status') ?? '', text: await page.textContent('#try-result') ?? '' }
  }
  const dry = await answer('#try-validate')
  t.equal(dry.status, '200', 'dry run: HTTP 200')
  t.match(dry.text, /"valid": true/, 'dry run: valid, as the gateway answered')
  await page.fill('#try-event', '{"order_id":"o-2","user_id":"u-2","amount":"ten"}')
  const bad = await answer('#try-validate')
  t.match(bad.text, /"valid": false/, 'dry run of an edited event: invalid')
  t.match(bad.text, /"pointer": "\/amount"/, 'with the pointer of the error')
  await page.fill('#try-event', '{"order_id":"o-3","user_id":"u-3","amount":3}')
  const real = await answer('#try-send')
  t.equal(real.status, '200', 'send: HTTP 200')
  t.match(real.text, /"accepted": 1/, 'send: the gateway\'s acknowledgement')
  t.match(real.text, /x-request-id: /, 'with the answer\'s headers')
  const records = await waitForRecords(reader, orders, 1, 20_000)
  t.same(records.map((r) => JSON.parse(r.text) as unknown), [{ order_id: 'o-3', user_id: 'u-3', amount: 3 }], 'the sent event is in the stream')
  await page.locator('#try').screenshot({ path: join(SHOTS, 'console-try.png') })
  t.same(pageErrors, [], 'no script errors on the page')
})
