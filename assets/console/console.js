// kinesis-gateway operator console: polls /console/feed every second and draws it. Plain
// browser JavaScript, no build step. Rates and latency percentiles are computed here from the
// feed's totals, over the last WINDOW_MS of feeds (as Prometheus' rate() and histogram_quantile()
// do), so the gateway keeps no state per viewer. Text from the gateway (partner data in the
// rejections) is only ever set with textContent, never as HTML.
/* global Node */
'use strict'

const POLL_MS = 1000
const WINDOW_MS = 10000
const FEED = '/console/feed'
const history = []
let channelsLoaded = false

function el (tag, attrs, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue
    if (k === 'class') node.className = v
    else if (k === 'field') node.dataset.field = v
    else node.setAttribute(k, v)
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)))
  return node
}

function fmtRate (v) {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—'
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
}
function fmtInt (v) { return Number(v || 0).toLocaleString('en-US') }
function fmtBytes (v) {
  if (v === null || v === undefined) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + ' ' + units[i]
}
function fmtMs (seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—'
  const ms = seconds * 1000
  return ms >= 100 ? ms.toFixed(0) + ' ms' : ms.toFixed(1) + ' ms'
}
function fmtDuration (s) {
  const d = Math.floor(s / 86400); const h = Math.floor(s / 3600) % 24; const m = Math.floor(s / 60) % 60
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`
}

/** The oldest feed within the window (the previous one at least), to take rates against. */
function baseline () {
  const latest = history[history.length - 1]
  for (const h of history) if (latest.t - h.t <= WINDOW_MS && h !== latest) return h
  return history.length > 1 ? history[history.length - 2] : undefined
}

/** Per second, between the same item (a channel, a stream) of two feeds; an item new since then counts from 0. */
function rate (now, then, item, old, pick) {
  if (then === undefined) return null
  const dt = (now.t - then.t) / 1000
  if (dt <= 0) return null
  return Math.max(0, (pick(item) - (old ? pick(old) : 0)) / dt)
}

/** histogram_quantile over the bucket increase between two feeds (linear within a bucket). */
function quantile (q, nowBuckets, thenBuckets) {
  const before = new Map((thenBuckets || []).map(([le, n]) => [le, n]))
  const inc = nowBuckets.map(([le, n]) => [le, n - (before.get(le) || 0)])
  const total = inc.length > 0 ? inc[inc.length - 1][1] : 0
  if (total <= 0) return null
  const rank = q * total
  let prevLe = 0; let prevN = 0
  for (const [le, n] of inc) {
    if (n >= rank) {
      if (le >= 1e9) return prevLe
      return prevLe + (le - prevLe) * ((rank - prevN) / Math.max(n - prevN, 1e-9))
    }
    prevLe = le; prevN = n
  }
  return prevLe
}

function byName (list, name) { return (list || []).find((x) => x.name === name) }
function sumValues (o) { return Object.values(o || {}).reduce((a, b) => a + b, 0) }
function codes (o) {
  const entries = Object.entries(o || {}).filter(([, n]) => n > 0)
  return entries.length === 0 ? '—' : entries.map(([c, n]) => `${c} ${fmtInt(n)}`).join(', ')
}

function drawGateway (feed) {
  const g = feed.gateway
  document.getElementById('version').textContent = g.version
  const ready = document.getElementById('ready')
  ready.textContent = g.draining ? 'draining' : g.ready ? 'ready' : 'not ready'
  ready.className = g.draining ? 'warn' : g.ready ? 'good' : 'bad'
  ready.title = Object.entries(g.streams).map(([s, st]) => `${s}: ${st}`).join('\n')
  document.getElementById('uptime').textContent = fmtDuration(g.uptimeSeconds)
  const workers = document.getElementById('workers')
  workers.textContent = String(g.workers.length)
  workers.dataset.count = String(g.workers.length)
  workers.title = g.workers.map((w) => `pid ${w.pid}: ${w.ready ? 'ready' : 'not ready'}, up ${fmtDuration(w.uptimeSeconds)}, Redis ${w.redis}`).join('\n')
  const redis = document.getElementById('redis')
  redis.textContent = g.redis
  redis.className = g.redis === 'shared' || g.redis === 'off' ? '' : 'warn'
  document.getElementById('kinesis').textContent = g.kinesis
  document.getElementById('updated').textContent = new Date(g.now).toLocaleTimeString()
}

function drawChannels (now, then) {
  const body = document.querySelector('#channels tbody')
  const rows = now.feed.channels.map((c) => {
    const old = then && byName(then.feed.channels, c.name)
    const r = (pick) => rate(now, then, c, old, pick)
    const p50 = quantile(0.5, c.ackBuckets, old && old.ackBuckets)
    const p99 = quantile(0.99, c.ackBuckets, old && old.ackBuckets)
    const refused = (x) => x.requestsRejected - x.throttled
    return el('tr', { 'data-channel': c.name },
      el('td', {}, c.name, el('br'), el('small', { class: 'mono' }, `→ ${c.stream}${c.invalid === 'partial' ? ', partial' : ''}`)),
      el('td', { field: 'ack' }, c.ack),
      el('td', { class: 'n', field: 'requestsRate' }, fmtRate(r((f) => f.requests))),
      el('td', { class: 'n', field: 'acceptedRate' }, fmtRate(r((f) => f.eventsAccepted))),
      el('td', { class: 'n', field: 'rejectedRate' }, fmtRate(r((f) => f.eventsRejected))),
      el('td', { class: 'n', field: 'refusedRate' }, fmtRate(r(refused))),
      el('td', { class: 'n', field: 'throttledRate' }, fmtRate(r((f) => f.throttled))),
      el('td', { class: 'n', field: 'p50' }, fmtMs(p50)),
      el('td', { class: 'n', field: 'p99' }, fmtMs(p99)),
      el('td', { class: 'n', field: 'eventsAccepted' }, fmtInt(c.eventsAccepted)),
      el('td', { class: 'n', field: 'eventsRejected' }, fmtInt(c.eventsRejected)),
      el('td', { class: 'n', field: 'throttled' }, fmtInt(c.throttled)))
  })
  body.replaceChildren(...(rows.length > 0 ? rows : [el('tr', {}, el('td', { colspan: 12, class: 'empty' }, 'no channels'))]))
}

function drawStreams (now, then) {
  const body = document.querySelector('#streams tbody')
  const limits = now.feed.shardLimits
  const rows = now.feed.streams.map((s) => {
    const old = then && byName(then.feed.streams, s.name)
    const r = (pick) => rate(now, then, s, old, pick)
    const dt = then ? (now.t - then.t) / 1000 : 0
    const shards = s.shards.map((sh) => {
      const before = old && old.shards.find((x) => x.shard === sh.shard)
      const perSecond = sh.recordsLastSecond !== null ? sh.recordsLastSecond : dt > 0 ? Math.max(0, (sh.records - (before ? before.records : 0)) / dt) : 0
      const share = Math.max(perSecond / limits.recordsPerSecond, sh.bytesLastSecond !== null ? sh.bytesLastSecond / limits.bytesPerSecond : 0)
      return { shard: sh.shard, share, perSecond }
    }).sort((a, b) => b.share - a.share).slice(0, 3)
    const shardCell = el('td', { field: 'shards' })
    for (const sh of shards) {
      const pct = Math.min(100, sh.share * 100)
      shardCell.append(el('div', { class: 'mono' }, el('span', { class: 'bar' + (pct >= 80 ? ' hot' : ''), style: `width:${Math.max(2, pct * 0.8)}px` }),
        `${sh.shard.replace(/^shardId-0*(?=\d)/, 'shard ')} ${pct.toFixed(1)}% (${fmtRate(sh.perSecond)} rec/s)`))
    }
    if (shards.length === 0) shardCell.textContent = '—'
    const spool = s.spoolUnshippedBytes === null ? '—' : `${fmtBytes(s.spoolUnshippedBytes)} unshipped / ${fmtBytes(s.spoolDiskBytes)} on disk`
    return el('tr', { 'data-stream': s.name },
      el('td', { class: 'mono' }, s.name),
      el('td', { class: 'n', field: 'sentRate' }, fmtRate(r((f) => f.sent))),
      el('td', { class: 'n', field: 'sent' }, fmtInt(s.sent)),
      el('td', { field: 'retried', title: 'records retried, by Kinesis error code' }, codes(s.retried)),
      el('td', { field: 'failed', title: 'records given up on, and PutRecords calls failed as a whole' },
        codes(s.failed), s.lost > 0 ? el('span', { class: 'bad' }, ` (${fmtInt(s.lost)} acknowledged, lost)`) : '',
        sumValues(s.callErrors) > 0 ? el('div', { class: 'warn' }, 'calls: ' + codes(s.callErrors)) : ''),
      el('td', { class: 'n', field: 'buffer' }, `${fmtBytes(s.bufferBytes)}, ${fmtInt(s.queuedRecords)} queued`),
      el('td', { class: 'n', field: 'spool' }, spool),
      el('td', { class: 'n', field: 'unitsRate' }, fmtRate(r((f) => f.payloadUnits))),
      el('td', { class: 'n', field: 'units' }, fmtInt(s.payloadUnits)),
      shardCell)
  })
  body.replaceChildren(...(rows.length > 0 ? rows : [el('tr', {}, el('td', { colspan: 10, class: 'empty' }, 'no streams'))]))
}

function drawRejections (feed) {
  const body = document.querySelector('#rejections tbody')
  const rows = feed.rejections.map((r) => {
    const errors = el('td', { class: 'wrap', field: 'errors' })
    for (const e of r.errors) errors.append(el('div', {}, `#${e.index} `, el('code', {}, e.pointer === '' ? '(event)' : e.pointer), ` ${e.reason}`))
    if (r.errorCount > r.errors.length) errors.append(el('div', { class: 'muted' }, `… ${r.errorCount - r.errors.length} more`))
    return el('tr', { 'data-request-id': r.requestId, title: `request ${r.requestId}, pid ${r.pid}, ${r.route}` },
      el('td', {}, new Date(r.time).toLocaleTimeString()),
      el('td', { field: 'channel' }, r.channel === '' ? '(none)' : r.channel),
      el('td', { field: 'client' }, r.clientId === null ? '—' : r.clientId),
      el('td', { class: 'n ' + (r.status >= 500 ? 'bad' : 'warn'), field: 'status' }, String(r.status)),
      el('td', { field: 'code' }, r.code === null ? (r.status === 207 ? 'partial' : '—') : r.code),
      errors,
      el('td', { class: 'wrap mono', field: 'excerpt' }, r.excerpt === null ? '—' : r.excerpt))
  })
  body.replaceChildren(...(rows.length > 0 ? rows : [el('tr', {}, el('td', { colspan: 7, class: 'empty' }, 'nothing rejected so far'))]))
}

async function poll () {
  const problem = document.getElementById('feed-error')
  try {
    const res = await fetch(FEED, { cache: 'no-store', credentials: 'same-origin' })
    if (!res.ok) {
      let detail = ''
      try { detail = (await res.json()).detail || '' } catch {}
      throw new Error(`${res.status} ${detail}`)
    }
    const feed = await res.json()
    history.push({ t: feed.gateway.now, feed })
    while (history.length > 2 && history[history.length - 1].t - history[0].t > WINDOW_MS + 2 * POLL_MS) history.shift()
    const now = history[history.length - 1]
    const then = baseline()
    drawGateway(feed)
    drawChannels(now, then)
    drawStreams(now, then)
    drawRejections(feed)
    problem.hidden = true
    if (!channelsLoaded) loadChannels()
  } catch (err) {
    problem.hidden = false
    problem.textContent = `The feed is not answering (${err.message}); retrying.`
  } finally {
    setTimeout(poll, POLL_MS)
  }
}

const examples = new Map()
async function loadChannels () {
  channelsLoaded = true
  try {
    const res = await fetch('/console/channels', { cache: 'no-store', credentials: 'same-origin' })
    const { channels } = await res.json()
    const select = document.getElementById('try-channel')
    select.replaceChildren(...channels.map((c) => el('option', { value: c.name }, `${c.name} (${c.ack}${c.access === 'api-key' ? ', needs a key' : ''})`)))
    for (const c of channels) examples.set(c.name, c.example)
    prefill()
  } catch {
    channelsLoaded = false
  }
}

function prefill () {
  const example = examples.get(document.getElementById('try-channel').value)
  document.getElementById('try-event').value = JSON.stringify(example === null || example === undefined ? {} : example, null, 2)
}

async function tryIt (mode) {
  const channel = document.getElementById('try-channel').value
  const key = document.getElementById('try-key').value
  const out = document.getElementById('try-result')
  out.textContent = '…'
  out.dataset.status = ''
  const headers = { 'content-type': 'application/json', 'x-kinesis-gateway-console': '1' }
  if (key !== '') headers['x-api-key'] = key
  try {
    const res = await fetch(`/console/try/${encodeURIComponent(channel)}?mode=${mode}`, {
      method: 'POST', headers, body: document.getElementById('try-event').value, credentials: 'same-origin'
    })
    const answer = await res.json()
    // The console's own refusal (e.g. 429, 413) has no `status` member of an inner answer.
    const inner = typeof answer.status === 'number' && 'body' in answer ? answer : { status: res.status, headers: {}, body: answer }
    out.dataset.status = String(inner.status)
    out.dataset.mode = mode
    out.textContent = `${mode === 'send' ? 'POST' : 'POST (dry run)'} /v1/${channel}${mode === 'validate' ? '/validate' : ''} → HTTP ${inner.status}\n` +
      Object.entries(inner.headers).map(([h, v]) => `${h}: ${v}`).join('\n') + '\n\n' +
      (typeof inner.body === 'string' ? inner.body : JSON.stringify(inner.body, null, 2))
  } catch (err) {
    out.textContent = `The request failed: ${err.message}`
  }
}

document.addEventListener('DOMContentLoaded', () => {
  document.querySelector('.window').textContent = String(WINDOW_MS / 1000)
  document.getElementById('try-channel').addEventListener('change', prefill)
  document.getElementById('try').addEventListener('submit', (event) => {
    event.preventDefault()
    const mode = event.submitter && event.submitter.value === 'send' ? 'send' : 'validate'
    tryIt(mode)
  })
  poll()
})
