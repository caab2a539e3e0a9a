/** Requests that must take effect once however often the rider taps. */
import { ApiError, newIdempotencyKey } from '@shared/api'

export type IdempotentSend = <T>(name: string, send: (key: string) => Promise<T>) => Promise<T>

/** Sends each request under a name ('rate', a gift's id) with that name's idempotency key. The
 * key is kept while the answer may have been lost (no answer reached the phone), so asking again
 * cannot act twice, and renewed once the service has answered, yes or no. */
export function idempotentRequests(): IdempotentSend {
  const keys = new Map<string, string>()
  return async (name, send) => {
    const key = keys.get(name) ?? newIdempotencyKey()
    keys.set(name, key)
    try {
      const answer = await send(key)
      keys.delete(name)
      return answer
    } catch (error) {
      if (!(error instanceof ApiError && error.isNetwork)) keys.delete(name)
      throw error
    }
  }
}
