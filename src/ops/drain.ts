import type { ProducerPool } from '../delivery/producer-pool.js'

/**
 * Flushes every producer, but gives up after `deadlineMs`: during a Kinesis outage records with
 * no deadline (buffered and spool modes) would otherwise keep the process alive forever.
 * Resolves with the records still unsent (0 = everything flushed). Spooled records left unsent
 * stay on disk and are shipped after the restart; buffered ones are lost, which the caller logs.
 */
export async function drainWithin (pool: ProducerPool, deadlineMs: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, deadlineMs) })
  await Promise.race([pool.drain(), timeout])
  clearTimeout(timer)
  let unsent = 0
  for (const producer of pool.all()) unsent += producer.bufferedRecords
  return unsent
}
