/** The shapes the rider's app reads and sends, after docs/contracts/openapi/*.json. */

// gateway -------------------------------------------------------------------------------------

export interface DevRider {
  subject: string
  district: string
  label: string
}

export interface DevPeople {
  riders: DevRider[]
  staff: unknown[]
}

export interface DevToken {
  token: string
  name?: string | null
}

// reporting -----------------------------------------------------------------------------------

export interface Category {
  code: string
  name: string
  group_code: string
  group_name: string
  priority: string
  handle_limit: string
  active: boolean
  photo_required: boolean
}

export interface DistrictCatalogue {
  district: string
  district_name: string
  revision: number
  published_at: string
  categories: Category[]
}

export interface Photo {
  id: string
  content_hash: string
  size: number
  media_type: string
  url: string
  thumbnail_url: string
  width: number
  height: number
}

export interface SubmitReport {
  category: string
  lat: number
  lon: number
  text: string
  photo_ids?: string[]
  captured_at?: string | null
}

export interface ReportPhoto {
  id: string
  url: string
  thumbnail_url: string
}

export interface Report {
  id: string
  reporter_id: string
  district: string
  category: string
  category_name: string | null
  lat: number
  lon: number
  text: string
  status: string
  status_label: string
  grid_id: string | null
  grid_name: string | null
  work_order_id: string | null
  work_order_state: string | null
  deadline: string | null
  closed_at: string | null
  rejection_reason_code: string | null
  rejection_reason: string | null
  submitted_at: string
  updated_at: string
  captured_at: string | null
  occurred_at: string
  photos: ReportPhoto[]
}

export interface TimelineStep {
  step: string
  label: string
  at: string
  work_order_id: string | null
  detail: string | null
  photos: ReportPhoto[]
}

export interface ReportDetail extends Report {
  timeline: TimelineStep[]
}

export interface Page<T> {
  items: T[]
  next_cursor: string | null
  limit?: number
}

// dispatch ------------------------------------------------------------------------------------

export interface GridFeature {
  type: 'Feature'
  properties: { grid_id?: string; name?: string; [key: string]: unknown }
  geometry: { type: string; coordinates: unknown }
}

export interface GridCollection {
  type: 'FeatureCollection'
  features: GridFeature[]
  [key: string]: unknown
}

// ledger --------------------------------------------------------------------------------------

export interface Balance {
  account_id: string
  rider_id: string
  posted: number
  reserved: number
  available: number
}

export interface StatementLine {
  id: string
  transfer_id: string
  kind: string
  code: string
  amount: number
  balance_change: number
  available_change: number
  reason: string
  report_id: string | null
  work_order_id: string | null
  redemption_id: string | null
  gift_name: string | null
  ledger_day: string
  created_at: string
}

export interface Gift {
  id: string
  district: string
  name: string
  cost: number
  stock: number
  collection_point: string
  collection_point_kind: 'station' | 'merchant'
  collection_point_name: string
  active_from: string
  active_until?: string | null
}

export interface GiftCatalogue {
  district: string
  gifts: Gift[]
}

export interface Redemption {
  id: string
  rider_id: string
  gift_id: string
  gift_name: string
  district: string
  cost: number
  collection_point: string
  collection_code: string
  state: string
  reserved_at: string
  expires_at: string
  resolved_at: string | null
  resolved_by: string | null
}

// notification --------------------------------------------------------------------------------

export interface InboxItem {
  id: string
  channel: string
  template: string
  title: string
  body: string
  report_id: string | null
  work_order_id: string | null
  created_at: string
  read_at?: string | null
}

export interface Inbox extends Page<InboxItem> {
  recipient_id: string
}

export interface UnreadCount {
  recipient_id: string
  unread: number
}

export type PushChannel = 'webhook' | 'wechat'

export interface Preference {
  kind: string
  channel: PushChannel
  enabled: boolean
}

export interface Preferences {
  recipient_id: string
  preferences: Preference[]
  quiet_hours: { start: string; end: string } | null
}
