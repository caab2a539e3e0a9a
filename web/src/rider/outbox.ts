/** The rider's outbox: every report is first kept on the phone (IndexedDB), then sent.
 *
 * A report gets its Idempotency-Key once, when the rider taps 提交; every attempt to send it
 * uses that key, so the service files it once however often the phone retries (a lost answer,
 * a reload, two tabs). An item leaves the outbox only when the service has answered 2xx: 201
 * (filed) or 200 (the same report again, or the rider's own report of the same problem moments
 * ago, `Duplicate-Of`). A network failure, 5xx or 429 keeps it queued and retries it with
 * backoff, when the phone comes back online and when the app starts. A refusal (any other 4xx)
 * marks it failed, with the service's words, until the rider edits and retries it or discards
 * it: nothing is dropped silently. */
import { createStore, del, get, promisifyRequest, set, values } from 'idb-keyval'
import { computed, shallowRef } from 'vue'

import { api, ApiError } from '@shared/api'

import { riderId } from './auth'
import type { Photo, Report, SubmitReport } from './types'

export type OutboxStatus = 'queued' | 'sending' | 'failed'

export interface OutboxReport {
  category: string
  categoryName: string
  lat: number
  lon: number
  /** Metres; null when the rider set the point on the map. */
  accuracy: number | null
  text: string
}

export interface OutboxItem {
  /** The Idempotency-Key of the report, also the item's key in IndexedDB. */
  key: string
  owner: string
  district: string
  createdAt: string
  /** When the rider took the photo or tapped 提交 (ISO, with offset). */
  capturedAt: string
  report: OutboxReport
  photo: Blob | null
  /** The photo's id once uploaded, so a retry does not upload it again. */
  photoId: string | null
  status: OutboxStatus
  attempts: number
  /** Epoch milliseconds before which the sender leaves it alone (backoff). */
  nextAttemptAt: number
  /** The last refusal or failure, in words. */
  error: string | null
  /** Field errors of a 422, each in words. */
  fieldErrors: string[]
}

export interface SentReport {
  key: string
  report: Report
}

const store = createStore('gridloop-rider', 'outbox')

const all = shallowRef<OutboxItem[]>([])
/** The signed-in rider's items, oldest first. */
export const outboxItems = computed(() =>
  all.value.filter((item) => item.owner === riderId.value).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
)
export const waitingCount = computed(() => outboxItems.value.filter((item) => item.status !== 'failed').length)
export const failedCount = computed(() => outboxItems.value.filter((item) => item.status === 'failed').length)
/** Set when the outbox cannot be read or written (private browsing, storage full). */
export const storageError = shallowRef<string | null>(null)

type SentListener = (sent: SentReport) => void
const listeners = new Set<SentListener>()

/** Be told of each report the service has taken (to refresh a list, say so to the rider). */
export function onSent(listener: SentListener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

async function refresh(): Promise<void> {
  try {
    all.value = await values<OutboxItem>(store)
    storageError.value = null
  } catch (error) {
    storageError.value = `无法读取本机待发送队列：${error instanceof Error ? error.message : String(error)}`
  }
}

/** Change a stored item in one transaction; an item discarded meanwhile stays discarded. */
function changeItem(key: string, change: (item: OutboxItem) => OutboxItem): Promise<void> {
  return store('readwrite', (objects) => {
    return new Promise<void>((resolve, reject) => {
      const request = objects.get(key)
      request.onsuccess = () => {
        try {
          const old = request.result as OutboxItem | undefined
          if (old) objects.put(change(old), key)
          resolve(promisifyRequest(objects.transaction))
        } catch (error) {
          reject(error)
        }
      }
      request.onerror = () => reject(request.error)
    })
  })
}

export interface NewReport {
  key: string
  district: string
  capturedAt: string
  report: OutboxReport
  photo: Blob | null
}

/** Keep a report on the phone (before anything is sent) and start sending. */
export async function enqueue(entry: NewReport): Promise<void> {
  const item: OutboxItem = {
    key: entry.key,
    owner: riderId.value,
    district: entry.district,
    createdAt: new Date().toISOString(),
    capturedAt: entry.capturedAt,
    report: { ...entry.report },
    photo: entry.photo,
    photoId: null,
    status: 'queued',
    attempts: 0,
    nextAttemptAt: 0,
    error: null,
    fieldErrors: [],
  }
  await set(item.key, item, store)
  await refresh()
  void flush()
}

export async function findItem(key: string): Promise<OutboxItem | undefined> {
  return get<OutboxItem>(key, store)
}

/** The rider changed a refused report: it is queued again under a new Idempotency-Key (the
 * refused one filed nothing, and the old key stays tied to what it was refused for). */
export async function replace(oldKey: string, entry: NewReport): Promise<void> {
  const old = await get<OutboxItem>(oldKey, store)
  if (old && old.status !== 'failed') throw new Error('这条上报正在发送，不能修改')
  await del(oldKey, store)
  await enqueue(entry)
}

/** Send a refused report again as it is, under its own key. */
export async function retry(key: string): Promise<void> {
  await changeItem(key, (item) => ({ ...item, status: 'queued', nextAttemptAt: 0, error: null, fieldErrors: [] }))
  await refresh()
  void flush()
}

/** The rider gives up a report that was refused (or not sent yet). */
export async function discard(key: string): Promise<void> {
  await del(key, store)
  await refresh()
}

// the sender ----------------------------------------------------------------------------------

const BASE_DELAY_MS = 2_000
const MAX_DELAY_MS = 5 * 60_000

function backoff(attempts: number): number {
  const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, attempts - 1))
  return Math.round(delay * (0.8 + Math.random() * 0.4))
}

/** Whether a failure is worth trying again later rather than the service's refusal. */
function transient(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true
  return error.isNetwork || error.status >= 500 || error.status === 429 || error.status === 408
}

type Outcome = 'sent' | 'later' | 'refused' | 'signed-out'

async function uploadPhoto(photo: Blob): Promise<string> {
  const form = new FormData()
  const extension = photo.type === 'image/png' ? 'png' : photo.type === 'image/webp' ? 'webp' : 'jpg'
  form.append('file', photo, `photo.${extension}`)
  const uploaded = await api<Photo>('reporting', '/v1/photos', { method: 'POST', form })
  return uploaded.id
}

async function sendOne(key: string): Promise<Outcome> {
  // Read again under the lock: another tab may have sent or changed it meanwhile.
  const item = await get<OutboxItem>(key, store)
  if (!item || item.status === 'failed' || item.owner !== riderId.value) return 'later'
  await changeItem(key, (stored) => ({ ...stored, status: 'sending' }))
  await refresh()
  let photoId = item.photoId
  try {
    if (item.photo && !photoId) {
      try {
        photoId = await uploadPhoto(item.photo)
      } catch (error) {
        if (error instanceof ApiError && !transient(error)) {
          throw new ApiError(error.status, error.title, `照片未能上传：${error.message}`, error.fieldErrors, error.body)
        }
        throw error
      }
      await changeItem(key, (stored) => ({ ...stored, photoId }))
    }
    const body: SubmitReport = {
      category: item.report.category,
      lat: item.report.lat,
      lon: item.report.lon,
      text: item.report.text,
      captured_at: item.capturedAt,
    }
    if (photoId) body.photo_ids = [photoId]
    const report = await api<Report>('reporting', '/v1/reports', { method: 'POST', json: body, idempotencyKey: key })
    await del(key, store)
    await refresh()
    const sent = { key, report }
    for (const listener of listeners) listener(sent)
    return 'sent'
  } catch (error) {
    const attempts = item.attempts + 1
    const words = error instanceof Error && error.message ? error.message : '发送失败'
    if (error instanceof ApiError && error.status === 401) {
      // The token expired: the report was not refused. Keep it for when the rider signs in.
      await changeItem(key, (stored) => ({ ...stored, status: 'queued', attempts, nextAttemptAt: 0, error: words }))
      await refresh()
      return 'signed-out'
    }
    if (transient(error)) {
      await changeItem(key, (stored) => ({
        ...stored,
        status: 'queued',
        attempts,
        nextAttemptAt: Date.now() + backoff(attempts),
        error: words,
      }))
      await refresh()
      return 'later'
    }
    const fieldErrors = error instanceof ApiError ? error.fieldErrors.map((field) => `${field.field}：${field.message}`) : []
    await changeItem(key, (stored) => ({ ...stored, status: 'failed', attempts, error: words, fieldErrors }))
    await refresh()
    return 'refused'
  }
}

let running: Promise<void> | null = null
let again = false
let timer: ReturnType<typeof setTimeout> | null = null

/** One sender at a time across tabs (Web Locks where the browser has them). */
function exclusively(task: () => Promise<void>): Promise<void> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks
  return locks ? locks.request('gridloop-rider-outbox', task) : task()
}

async function sendDue(): Promise<void> {
  for (;;) {
    await refresh()
    const due = outboxItems.value.filter((item) => item.status === 'queued' && item.nextAttemptAt <= Date.now())
    if (due.length === 0) return
    let progressed = false
    for (const item of due) {
      const outcome = await sendOne(item.key)
      if (outcome === 'signed-out') return
      if (outcome === 'later') return // the network or the service is down: wait for the backoff
      progressed = true
    }
    if (!progressed) return
  }
}

/** Send every item that is due; safe to call at any time and from anywhere. */
export function flush(): Promise<void> {
  if (running) {
    again = true
    return running
  }
  running = (async () => {
    // Yield first: the `finally` below must not run before `running` is assigned.
    await Promise.resolve()
    try {
      do {
        again = false
        if (!riderId.value) return
        await exclusively(sendDue)
      } while (again)
    } catch (error) {
      storageError.value = `待发送队列出错：${error instanceof Error ? error.message : String(error)}`
    } finally {
      running = null
      schedule()
    }
  })()
  return running
}

/** Wake up for the earliest backoff that ends. */
function schedule(): void {
  if (timer) clearTimeout(timer)
  timer = null
  const waiting = outboxItems.value.filter((item) => item.status === 'queued')
  if (waiting.length === 0) return
  const next = Math.min(...waiting.map((item) => item.nextAttemptAt))
  timer = setTimeout(() => void flush(), Math.max(1_000, next - Date.now()))
}

/** Every queued item is due now (the phone is back online, the app started, the rider asked). */
export async function sendNow(): Promise<void> {
  for (const item of outboxItems.value) {
    if (item.status === 'queued' && item.nextAttemptAt > 0) {
      await changeItem(item.key, (stored) => ({ ...stored, nextAttemptAt: 0 }))
    }
  }
  await flush()
}

let started = false

/** At app start: items a closed page left `sending` are queued again (their key makes a resend
 * harmless), everything queued is tried at once, and again whenever the phone comes online. */
export async function startOutbox(): Promise<void> {
  if (started) return
  started = true
  await refresh()
  for (const item of all.value) {
    if (item.status === 'sending') await changeItem(item.key, (stored) => ({ ...stored, status: 'queued' }))
  }
  window.addEventListener('online', () => void sendNow())
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void flush()
  })
  await sendNow()
}
