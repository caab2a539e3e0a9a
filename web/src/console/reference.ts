/** A district's grids (GeoJSON), grid load and categories from dispatch, cached per district. */
import { ApiError, api } from '@shared/api'

import type { CategoryView, DistrictGridLoad, GridCollection, GridLoad } from './types'

const gridCache = new Map<string, Promise<GridCollection>>()
const categoryCache = new Map<string, Promise<CategoryView[]>>()

export function districtGrids(district: string, fresh = false): Promise<GridCollection> {
  let found = gridCache.get(district)
  if (!found || fresh) {
    found = api<GridCollection>('dispatch', `/v1/districts/${district}/grids`)
    found.catch(() => gridCache.delete(district))
    gridCache.set(district, found)
  }
  return found
}

/** Each grid's open and overdue orders now (GET …/grid-load answers them under `grids`, with
 * the moment they were counted). */
export async function gridLoad(district: string, street?: string): Promise<DistrictGridLoad> {
  const answer = await api<DistrictGridLoad | GridLoad[]>('dispatch', `/v1/districts/${district}/grid-load`, {
    query: { street },
  })
  return Array.isArray(answer) ? { district, street: street ?? null, as_of: null, grids: answer } : answer
}

export function districtCategories(district: string): Promise<CategoryView[]> {
  let found = categoryCache.get(district)
  if (!found) {
    found = api<CategoryView[]>('dispatch', `/v1/districts/${district}/categories`)
    found.catch(() => categoryCache.delete(district))
    categoryCache.set(district, found)
  }
  return found
}

export function forgetDistrict(district: string): void {
  gridCache.delete(district)
  categoryCache.delete(district)
}

/** The service answers no such route (yet): 404, or 405 where only PUT exists on the path. */
export function isNotProvided(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 404 || error.status === 405)
}

export interface GridOption {
  id: string
  name: string
  street: string
}

/** An entry of a select: the value it sets and the words it shows. */
export interface Choice {
  value: string
  label: string
}

export const streetChoice = (street: string): Choice => ({ value: street, label: street })
export const gridChoice = (grid: GridOption): Choice => ({ value: grid.id, label: `${grid.name}（${grid.id}）` })

/** The grids and streets of a district for filters; empty lists when the grids cannot be read
 * (the filters then take typed values). */
export async function gridOptions(district: string): Promise<{ grids: GridOption[]; streets: string[] }> {
  try {
    const collection = await districtGrids(district)
    const grids = collection.features.map((f) => ({
      id: f.properties.grid_id,
      name: f.properties.name,
      street: f.properties.street ?? '',
    }))
    const streets = [...new Set(grids.map((g) => g.street).filter(Boolean))].sort()
    return { grids, streets }
  } catch {
    return { grids: [], streets: [] }
  }
}
