/** The rider's redemptions: from the ledger's list of the caller's own
 * (GET /v1/redemptions), or, where a ledger does not have that list yet (404/405), from the ids
 * this phone remembers of the redemptions made on it. */
import { api, ApiError } from '@shared/api'

import type { Page, Redemption } from './types'

const LOCAL_LIMIT = 50

function localKey(rider: string): string {
  return `gridloop.rider.redemptions.${rider}`
}

export function rememberedIds(rider: string): string[] {
  try {
    const raw = localStorage.getItem(localKey(rider))
    const ids = raw ? (JSON.parse(raw) as unknown) : []
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : []
  } catch {
    return []
  }
}

export function rememberRedemption(rider: string, id: string): void {
  const ids = [id, ...rememberedIds(rider).filter((known) => known !== id)].slice(0, LOCAL_LIMIT)
  localStorage.setItem(localKey(rider), JSON.stringify(ids))
}

export interface RedemptionPage {
  items: Redemption[]
  next_cursor: string | null
  /** True when the list came from the ids this phone remembers. */
  local: boolean
  /** Remembered redemptions that could not be read, in words. */
  problems: string[]
}

async function fromRemembered(rider: string): Promise<RedemptionPage> {
  const problems: string[] = []
  const answers = await Promise.all(
    rememberedIds(rider).map(async (id) => {
      try {
        return await api<Redemption>('ledger', `/v1/redemptions/${encodeURIComponent(id)}`)
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) problems.push(error instanceof Error ? error.message : String(error))
        return null
      }
    }),
  )
  const items = answers
    .filter((entry): entry is Redemption => entry !== null)
    .sort((a, b) => b.reserved_at.localeCompare(a.reserved_at))
  return { items, next_cursor: null, local: true, problems: [...new Set(problems)] }
}

export async function listRedemptions(rider: string, cursor: string | null): Promise<RedemptionPage> {
  try {
    const page = await api<Page<Redemption>>('ledger', '/v1/redemptions', { query: { limit: 20, cursor } })
    return { items: page.items, next_cursor: page.next_cursor, local: false, problems: [] }
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return fromRemembered(rider)
    throw error
  }
}
