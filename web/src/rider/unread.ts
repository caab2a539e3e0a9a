/** The number of unread messages on the 消息 tab: read when the app starts, when the rider
 * comes back to it, every 30 s while it is shown, and after the inbox changes. */
import { shallowRef } from 'vue'

import { api } from '@shared/api'

import { riderId } from './auth'
import type { UnreadCount } from './types'

export const unread = shallowRef(0)

const PERIOD_MS = 30_000
let timer: ReturnType<typeof setInterval> | null = null
let inFlight = false

export async function refreshUnread(): Promise<void> {
  if (!riderId.value || inFlight) return
  inFlight = true
  try {
    const answer = await api<UnreadCount>('notification', '/v1/notifications/unread-count')
    unread.value = answer.unread
  } catch {
    // The badge keeps its last figure; the inbox itself says what went wrong.
  } finally {
    inFlight = false
  }
}

function onVisible(): void {
  if (document.visibilityState === 'visible') void refreshUnread()
}

export function startUnreadBadge(): void {
  if (timer) return
  void refreshUnread()
  timer = setInterval(() => {
    if (document.visibilityState === 'visible') void refreshUnread()
  }, PERIOD_MS)
  window.addEventListener('focus', onVisible)
  document.addEventListener('visibilitychange', onVisible)
}

export function stopUnreadBadge(): void {
  if (timer) clearInterval(timer)
  timer = null
  window.removeEventListener('focus', onVisible)
  document.removeEventListener('visibilitychange', onVisible)
  unread.value = 0
}
