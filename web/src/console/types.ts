/** The shapes the console reads, as docs/contracts/openapi/*.json describe them. */

export type WorkOrderState =
  | 'pending_review'
  | 'filed'
  | 'dispatched'
  | 'claimed'
  | 'resolved'
  | 'rework'
  | 'returned'
  | 'closed'
  | 'reopened'
  | 'rated'
  | 'voided'
  | 'rejected'

export const STATE_LABELS: Record<WorkOrderState, string> = {
  pending_review: '待核实',
  filed: '已立案',
  dispatched: '已派遣',
  claimed: '处置中',
  resolved: '已处置，待核查',
  rework: '返工',
  returned: '已回退，待改派',
  closed: '已结案',
  reopened: '发回重办',
  rated: '已评价',
  voided: '已作废',
  rejected: '不予立案',
}

export const OPEN_STATES: WorkOrderState[] = [
  'pending_review',
  'filed',
  'dispatched',
  'claimed',
  'resolved',
  'rework',
  'returned',
  'reopened',
]

export interface AssigneeView {
  kind: string
  id: string
  name: string
}

export interface DeadlinesView {
  started_at: string
  claim_due: string
  warning_at: string
  handle_due: string
}

export interface WorkOrderSummary {
  id: string
  district: string
  report_id: string
  category: string
  category_name: string
  priority: string
  grid_id: string
  grid_name: string
  street: string
  state: WorkOrderState
  state_label: string
  assignee: AssigneeView | null
  deadlines: DeadlinesView | null
  overdue: boolean
  escalation_level: number
  filed_at: string
  version: number
}

export interface TransitionView {
  from_state: string | null
  to_state: string
  action: string
  actor: string
  actor_role: string
  reason: string
  evidence: string[]
  at: string
}

export interface AttachedReportView {
  report_id: string
  reporter_id: string
  distance_m: number
  attached_at: string
  detached_at?: string | null
}

export interface WorkOrderView extends WorkOrderSummary {
  reporter_id: string
  lat: number
  lon: number
  text: string
  rework_count: number
  return_count: number
  reopen_count: number
  closed_at: string | null
  rating: number | null
  reports: AttachedReportView[]
  history: TransitionView[]
}

export interface WorkOrderList {
  items: WorkOrderSummary[]
  limit: number
  next_cursor: string | null
}

export interface ReportPhotoView {
  id: string
  url: string
  thumbnail_url: string
  media_type: string
  size: number
}

/** The part of reporting's ReportDetail the console shows. */
export interface ReportDetail {
  id: string
  text?: string | null
  category_name?: string | null
  occurred_at: string
  photos: ReportPhotoView[]
}

export interface PhotoView extends ReportPhotoView {
  width: number
  height: number
}

export interface CategoryView {
  code: string
  name: string
  group_code: string
  group_name: string
  priority: string
  active: boolean
}

export interface DistrictView {
  code: string
  name: string
  grids: number
  categories: number
  roster: boolean
  calendar: boolean
}

export interface Figures {
  reports: number
  filed: number
  merged: number
  rejected: number
  due: number
  closed: number
  closed_on_time: number
  reworked: number
  closing_rate: number | null
  on_time_closing_rate: number | null
  rework_rate: number | null
  claimed: number
  average_claim_seconds: number | null
  average_handling_seconds: number | null
  rated: number
  satisfied: number
  satisfaction_rate: number | null
  open_now: number
  overdue_now: number
}

export interface DistrictFigures extends Figures {
  district: string
  name: string
}

export interface StatisticsView {
  period: { from: string; to: string; start: string; end: string; cutoff: string }
  scope: { districts: string[]; street: string | null; grid: string | null; department: string | null }
  total: Figures
  districts: DistrictFigures[]
}

/** A grid's 在办数 and 超期数 now. */
export interface GridLoad {
  grid_id: string
  open: number
  overdue: number
}

/** GET /v1/districts/{district}/grid-load. */
export interface DistrictGridLoad {
  district: string
  street: string | null
  as_of: string | null
  grids: GridLoad[]
}

export interface GridProperties {
  grid_id: string
  name: string
  community?: string
  street?: string
  district_code?: string
}

export interface GridFeature {
  type: 'Feature'
  id?: string
  properties: GridProperties
  geometry: { type: 'Polygon' | 'MultiPolygon'; coordinates: unknown }
}

export interface GridCollection {
  type: 'FeatureCollection'
  bbox?: number[]
  features: GridFeature[]
}

export interface DevStaff {
  subject: string
  role: string
  district: string
  grids: string[]
  name: string
  label: string
}

export interface DevPeople {
  riders: { subject: string; district: string; label: string }[]
  staff: DevStaff[]
}
