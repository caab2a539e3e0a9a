/** The categories a rider may report in their district, kept on the phone too so the form
 * still works offline, and the rider's recent choices (suggested first). */
import { api } from '@shared/api'

import { recentList } from './recentList'
import type { Category, DistrictCatalogue } from './types'

function cacheKey(district: string): string {
  return `gridloop.rider.categories.${district}`
}

export interface LoadedCatalogue {
  catalogue: DistrictCatalogue | null
  /** True when the answer came from the phone's copy (the service could not be reached). */
  cached: boolean
}

export function cachedCatalogue(district: string): DistrictCatalogue | null {
  try {
    const raw = localStorage.getItem(cacheKey(district))
    return raw ? (JSON.parse(raw) as DistrictCatalogue) : null
  } catch {
    return null
  }
}

/** The district's catalogue from the service, else the copy kept last time. Throws the
 * service's error (in words) when there is no copy either. */
export async function loadCatalogue(district: string): Promise<LoadedCatalogue> {
  try {
    const catalogues = await api<DistrictCatalogue[]>('reporting', '/v1/categories', { query: { district } })
    const catalogue = catalogues.find((entry) => entry.district === district) ?? catalogues[0] ?? null
    if (catalogue) localStorage.setItem(cacheKey(district), JSON.stringify(catalogue))
    return { catalogue, cached: false }
  } catch (error) {
    const copy = cachedCatalogue(district)
    if (copy) return { catalogue: copy, cached: true }
    throw error
  }
}

const recentChoices = recentList('gridloop.rider.recent-categories', 4)

export const recentCodes = recentChoices.read
export const rememberChoice = recentChoices.remember

/** The active categories of a catalogue, the rider's recent ones first. */
export function suggested(categories: Category[], rider: string): Category[] {
  const byCode = new Map(categories.filter((entry) => entry.active).map((entry) => [entry.code, entry]))
  return recentCodes(rider)
    .map((code) => byCode.get(code))
    .filter((entry): entry is Category => entry !== undefined)
}
