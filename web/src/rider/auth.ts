/** The rider's session: who is signed in to the 随手拍 app. Staff tokens are refused here (the
 * console at /console/ is theirs). */
import { computed, shallowRef } from 'vue'

import { configureApi } from '@shared/api'
import { clearSession, loadSession, saveSession, type Session } from '@shared/session'

import { handBackError, handedBack } from './handback'

export const STAFF_REFUSED = '此入口仅供骑手使用，工作人员请使用 /console/'

const current = shallowRef<Session | null>(null)
/** Why the last sign-in was refused, in words (shown on the sign-in page). */
export const refusal = shallowRef<string | null>(null)

export const session = computed(() => current.value)
export const riderId = computed(() => current.value?.principal.subject ?? '')
export const district = computed(() => current.value?.principal.district ?? '')

/** Keep a session only if it is a rider's; otherwise say why and forget it. */
function accept(found: Session | null): Session | null {
  if (!found) return null
  if (found.principal.role !== 'rider') {
    clearSession('rider')
    refusal.value = STAFF_REFUSED
    return null
  }
  refusal.value = null
  return found
}

/** At start: a token the identity provider handed back in `#token=…`, else the stored one. */
export function restoreSession(): void {
  refusal.value = handBackError
  current.value = accept(handedBack ?? loadSession('rider'))
}

/** Save a freshly minted token; false (with {@link refusal} set) if it is not a rider's. */
export function signIn(token: string, name?: string | null): boolean {
  const saved = accept(saveSession('rider', token, name ?? undefined))
  current.value = saved
  return saved !== null
}

export function signOut(): void {
  clearSession('rider')
  current.value = null
}

let onExpired: () => void = () => {}

/** What to do when the services refuse the token (the router sends the rider to sign in). */
export function whenExpired(handler: () => void): void {
  onExpired = handler
}

configureApi({
  token: () => current.value?.token ?? null,
  unauthorized: () => {
    if (!current.value) return
    signOut()
    refusal.value = '登录已失效，请重新登录'
    onExpired()
  },
})
