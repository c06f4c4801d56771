import { createHash, timingSafeEqual } from 'node:crypto'
import type { ApiKeyConfig, ChannelConfig } from '../config/types.js'
import { GatewayError } from '../http/problems.js'

/** Header API Gateway uses for its keys; clients written for it keep working. */
export const API_KEY_HEADER = 'x-api-key'

/** Longer values cannot be a key we issued; refusing them early bounds the hashing work. */
const MAX_KEY_CHARS = 512

/**
 * The configured API keys. Only SHA-256 hashes are held. A presented key is hashed and compared with
 * every configured hash by crypto.timingSafeEqual, without stopping at a match, so the time taken
 * says nothing about which key (or which prefix of a hash) matched. The cost is one hash and
 * n 32-byte comparisons per request: negligible for the tens or hundreds of partners this serves.
 */
export class ApiKeys {
  constructor (private readonly keys: readonly ApiKeyConfig[]) {}

  get size (): number {
    return this.keys.length
  }

  /** The client of a presented key; undefined when it matches none. */
  identify (presented: string): ApiKeyConfig | undefined {
    if (presented.length === 0 || presented.length > MAX_KEY_CHARS) return undefined
    const digest = createHash('sha256').update(presented, 'utf8').digest()
    let found: ApiKeyConfig | undefined
    for (const key of this.keys) {
      if (timingSafeEqual(digest, key.sha256) && found === undefined) found = key
    }
    return found
  }

  /**
   * Who is calling `channel`: the key's client, or null on an open channel without a key.
   * A key sent to an open channel is still checked (a wrong key is a client bug worth reporting),
   * and its limits and quota apply. With no keys configured at all, the header means nothing and is
   * ignored (clients written for API Gateway often send one anyway).
   */
  authenticate (header: string | string[] | undefined, channel: ChannelConfig): ApiKeyConfig | null {
    const where = channel.format === 'segment' ? SEGMENT_KEY_PLACES : `the ${API_KEY_HEADER} header`
    if (header === undefined || header === '' || (this.keys.length === 0 && channel.access === 'open')) {
      if (channel.access === 'open') return null
      throw new GatewayError('GW_ERR_API_KEY_MISSING', `Channel ${channel.name} requires an API key: send it in ${where}`)
    }
    const client = typeof header === 'string' ? this.identify(header) : undefined
    if (client === undefined) {
      throw new GatewayError('GW_ERR_API_KEY_INVALID', `The key sent in ${where} is not a valid API key`)
    }
    if (client.channels !== '*' && !client.channels.includes(channel.name)) {
      throw new GatewayError('GW_ERR_API_KEY_FORBIDDEN', `API key ${client.id} may not write to channel ${channel.name}`)
    }
    return client
  }
}

const SEGMENT_KEY_PLACES = `the write key (the HTTP Basic user name, as Segment SDKs send it, or "writeKey" in the body) or the ${API_KEY_HEADER} header`

/**
 * The user name of HTTP Basic credentials (RFC 7617): where Segment and RudderStack SDKs put
 * their write key (with an empty password). Undefined when the header is not Basic.
 */
export function basicAuthUser (header: string | undefined): string | undefined {
  if (header === undefined || header.length > 4 * MAX_KEY_CHARS) return undefined
  const match = /^basic[ \t]+([A-Za-z0-9+/=_-]+)[ \t]*$/i.exec(header)
  if (match === null) return undefined
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  const user = colon === -1 ? decoded : decoded.slice(0, colon)
  return user === '' ? undefined : user
}

/** The hash to put in the configuration for a key (also what docs/front-door.md shows with node -e). */
export function hashApiKey (key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}
