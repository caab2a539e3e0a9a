/** The rider's redemptions: from the ledger's list of the caller's own
 * (GET /v1/redemptions), or, where a ledger does not have that list yet (404/405), from the ids
 * this phone remembers of the redemptions made on it. */
import { api, ApiError } from '@shared/api'

import { recentList } from './recentList'
import type { Page, Redemption } from './types'

const madeHere = recentList('gridloop.rider.redemptions', 50)

export const rememberedIds = madeHere.read
export const rememberRedemption = madeHere.remember

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
