/** Work orders through dispatch (and evidence photos through reporting). */
import { api } from '@shared/api'

import type {
  PhotoView,
  ReportDetail,
  WorkOrderList,
  WorkOrderState,
  WorkOrderSummary,
  WorkOrderView,
} from './types'

export interface OrderFilter {
  district?: string
  street?: string
  grid?: string
  state?: WorkOrderState[]
  category?: string
  assignee?: string
  overdue?: boolean | null
  limit?: number
  cursor?: string | null
}

export function listOrders(filter: OrderFilter, signal?: AbortSignal): Promise<WorkOrderList> {
  return api<WorkOrderList>('dispatch', '/v1/workorders', {
    query: {
      district: filter.district,
      street: filter.street,
      grid: filter.grid,
      state: filter.state && filter.state.length ? filter.state : undefined,
      category: filter.category,
      assignee: filter.assignee,
      overdue: filter.overdue === null || filter.overdue === undefined ? undefined : filter.overdue,
      limit: filter.limit ?? 50,
      cursor: filter.cursor ?? undefined,
    },
    signal,
  })
}

/** Every page of a listing, up to `max` orders (for views that sort the whole set). */
export async function listAllOrders(filter: OrderFilter, max = 400): Promise<{ items: WorkOrderSummary[]; more: boolean }> {
  const items: WorkOrderSummary[] = []
  let cursor: string | null = null
  do {
    const page: WorkOrderList = await listOrders({ ...filter, limit: 200, cursor })
    items.push(...page.items)
    cursor = page.next_cursor
  } while (cursor && items.length < max)
  return { items, more: cursor !== null }
}

export function getOrder(id: string): Promise<WorkOrderView> {
  return api<WorkOrderView>('dispatch', `/v1/workorders/${encodeURIComponent(id)}`)
}

function act(id: string, action: string, json?: unknown): Promise<WorkOrderView> {
  return api<WorkOrderView>('dispatch', `/v1/workorders/${encodeURIComponent(id)}/${action}`, {
    method: 'POST',
    json,
  })
}

export const claimOrder = (id: string) => act(id, 'claim')
export const resolveOrder = (id: string, note: string, evidence: string[]) => act(id, 'resolve', { note, evidence })
export const returnOrder = (id: string, reason: string) => act(id, 'return', { reason })
export const verifyOrder = (id: string, passed: boolean, note: string) => act(id, 'verify', { passed, note })
export const voidOrder = (id: string, reason: string) => act(id, 'void', { reason })
export const acceptOrder = (id: string, note: string) => act(id, 'accept', { note })
export const rejectOrder = (id: string, reason: string) => act(id, 'reject', { reason })

/** Uploads one evidence photo (reporting checks and re-encodes it) and answers its id. */
export async function uploadPhoto(file: File): Promise<PhotoView> {
  const form = new FormData()
  form.append('file', file, file.name)
  return api<PhotoView>('reporting', '/v1/photos', { method: 'POST', form })
}

export function getReport(reportId: string): Promise<ReportDetail> {
  return api<ReportDetail>('reporting', `/v1/reports/${encodeURIComponent(reportId)}`)
}

/** reporting answers photo paths of its own (/v1/photos/…): through the gateway they are under
 * /api/reporting. */
export function photoPath(id: string, thumbnail = false): string {
  return `/v1/photos/${encodeURIComponent(id)}${thumbnail ? '/thumbnail' : ''}`
}
