/** Words and colours the rider's screens share: times in Beijing time, report statuses. */
import { beijingMinutes, parseMoment } from '@shared/time'

/** 2026-03-01 14:05 in Beijing time, whatever the phone's zone. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return ''
  const date = parseMoment(iso)
  if (!date) return iso
  const parts = Object.fromEntries(beijingMinutes.formatToParts(date).map((part) => [part.type, part.value]))
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`
}

export interface StatusLook {
  label: string
  color: string
}

/** Each status a rider's report can be in, with a colour dark enough for white text (WCAG AA). */
export const REPORT_STATUS: Record<string, StatusLook> = {
  submitted: { label: '已上报', color: '#1d5fbf' },
  pending_review: { label: '待核实', color: '#8a5300' },
  rejected: { label: '不予立案', color: '#c0262d' },
  filed: { label: '已立案', color: '#1d5fbf' },
  dispatched: { label: '已派遣', color: '#1d5fbf' },
  claimed: { label: '处置中', color: '#6a3fb5' },
  resolved: { label: '已处置，待核查', color: '#6a3fb5' },
  rework: { label: '返工', color: '#a8431b' },
  returned: { label: '已回退，待改派', color: '#a8431b' },
  closed: { label: '已结案', color: '#1a7531' },
  reopened: { label: '发回重办', color: '#a8431b' },
  rated: { label: '已评价', color: '#1a7531' },
  voided: { label: '已作废', color: '#5c5f66' },
  merged: { label: '已并单', color: '#0b6b85' },
  withdrawn: { label: '已撤回', color: '#5c5f66' },
}

export function statusLook(status: string, label?: string | null): StatusLook {
  const known = REPORT_STATUS[status]
  return { label: label || known?.label || status, color: known?.color ?? '#5c5f66' }
}

export const REDEMPTION_STATE: Record<string, StatusLook> = {
  reserved: { label: '待领取', color: '#1d5fbf' },
  fulfilled: { label: '已领取', color: '#1a7531' },
  cancelled: { label: '已取消', color: '#5c5f66' },
  expired: { label: '已过期', color: '#5c5f66' },
}

export function redemptionLook(state: string): StatusLook {
  return REDEMPTION_STATE[state] ?? { label: state, color: '#5c5f66' }
}

export const COLLECTION_POINT_KIND: Record<string, string> = {
  station: '骑手驿站',
  merchant: '合作商户',
}

/** A message in words for anything thrown: ApiError and Error carry one already. */
export function wordsOf(error: unknown): string {
  if (error instanceof Error && error.message) return error.message
  return '出错了，请稍后再试'
}
