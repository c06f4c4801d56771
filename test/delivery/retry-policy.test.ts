import t from 'tap'
import { classifyCallError, fullJitterDelay, isRetryableRecordError } from '../../src/delivery/retry-policy.js'

t.test('per-record PutRecords errors: throughput and internal failures are retried, others are not', async (t) => {
  t.ok(isRetryableRecordError('ProvisionedThroughputExceededException'))
  t.ok(isRetryableRecordError('InternalFailure'))
  t.notOk(isRetryableRecordError('KMSAccessDeniedException'))
  t.notOk(isRetryableRecordError('KMSNotFoundException'))
})

t.test('whole-call errors', async (t) => {
  const sdkError = (name: string, status?: number): Error => Object.assign(new Error(name), { name, ...(status !== undefined ? { $metadata: { httpStatusCode: status } } : {}) })
  t.same(classifyCallError(sdkError('ResourceNotFoundException', 400)), { code: 'ResourceNotFoundException', message: 'ResourceNotFoundException', retryable: false, maybeWritten: false })
  t.equal(classifyCallError(sdkError('AccessDeniedException', 400)).retryable, false)
  t.equal(classifyCallError(sdkError('ProvisionedThroughputExceededException', 400)).retryable, true, 'whole-call throttling')
  t.equal(classifyCallError(sdkError('LimitExceededException', 400)).retryable, true)
  t.equal(classifyCallError(sdkError('SomethingNew', 503)).retryable, true, 'any 5xx')
  t.equal(classifyCallError(sdkError('CredentialsProviderError')).retryable, true, 'credentials that could not be loaded may come back')
  t.equal(classifyCallError(sdkError('ExpiredTokenException', 400)).retryable, true, 'expired temporary credentials are refreshed')
  const reset = classifyCallError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))
  t.same([reset.retryable, reset.maybeWritten], [true, true], 'a reset after sending may have written the records')
  const refused = classifyCallError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))
  t.same([refused.retryable, refused.maybeWritten], [true, false], 'a refused connection wrote nothing')
})

t.test('full-jitter backoff stays within [0, min(max, base * 2^attempt))', async (t) => {
  t.equal(fullJitterDelay(3, 50, 2000, () => 0), 0)
  t.equal(fullJitterDelay(3, 50, 2000, () => 0.999999), 399)
  t.equal(fullJitterDelay(20, 50, 2000, () => 0.5), 1000, 'capped at the maximum')
  t.equal(fullJitterDelay(1000, 50, 2000, () => 0.5), 1000, 'huge attempt counts do not overflow')
})
