/** How the console writes times, durations and rates: zh-CN, in Asia/Shanghai (the districts'
 * zone, whatever the browser's). */
import { beijingMinutes, parseMoment } from '@shared/time'

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  const date = parseMoment(iso)
  return date ? beijingMinutes.format(date) : iso
}

/** "3 小时 12 分", "2 天 4 小时", "40 分" (whole minutes, never below 1 when not zero). */
export function durationWords(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60000))
  const days = Math.floor(minutes / 1440)
  const hours = Math.floor((minutes % 1440) / 60)
  const rest = minutes % 60
  if (days > 0) return hours > 0 ? `${days} 天 ${hours} 小时` : `${days} 天`
  if (hours > 0) return `${hours} 小时 ${rest} 分`
  return `${rest} 分`
}

export interface TimeLeft {
  text: string
  overdue: boolean
  /** Less than an hour left. */
  soon: boolean
}

/** "剩余 3 小时 12 分" before the deadline, "已超时 40 分" after it. */
export function timeLeft(deadline: string | null | undefined, now: number): TimeLeft | null {
  if (!deadline) return null
  const due = new Date(deadline).getTime()
  if (Number.isNaN(due)) return null
  const left = due - now
  if (left < 0) return { text: `已超时 ${durationWords(-left)}`, overdue: true, soon: false }
  return { text: `剩余 ${durationWords(left)}`, overdue: false, soon: left < 3600000 }
}

export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return '—'
  return `${(rate * 100).toFixed(1)}%`
}

/** Seconds as "3 小时 12 分" (or "—" over nothing). */
export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—'
  if (value < 60) return `${Math.round(value)} 秒`
  return durationWords(value * 1000)
}

export const PRIORITY_LABELS: Record<string, string> = { urgent: '紧急', normal: '一般' }

export const ACTION_LABELS: Record<string, string> = {
  file: '立案',
  accept: '核实通过',
  reject: '不予立案',
  dispatch: '派遣',
  claim: '签收',
  resolve: '处置反馈',
  verify: '核查',
  return: '回退',
  reopen: '发回重办',
  rate: '评价',
  void: '作废',
  withdraw: '撤回',
  review: '待核实',
  merge: '并单',
}

export const ACTOR_ROLE_LABELS: Record<string, string> = {
  system: '系统',
  reporter: '上报人',
  assignee: '处置人',
  supervisor: '监督员',
}

const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' })

/** A moment's day in Asia/Shanghai (the districts' days) as YYYY-MM-DD. */
export function isoDay(date: Date): string {
  return day.format(date)
}
