/** The token the identity provider hands back in `#token=…`, taken before anything else runs:
 * main.ts imports this module first, because the hash router rewrites an unknown fragment into
 * a route path (`#/token=…`) as soon as it is created. */
import { takeTokenFromLocation, type Session } from '@shared/session'

export let handedBack: Session | null = null
export let handBackError: string | null = null

try {
  handedBack = takeTokenFromLocation('rider')
} catch (error) {
  handBackError = error instanceof Error ? error.message : String(error)
}
