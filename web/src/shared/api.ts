/** The one way the front end talks to gridloop: through the gateway on the same origin,
 * `/api/<service>/…`. Every failure becomes an {@link ApiError} whose message is in words a
 * rider or a grid worker understands; screens show `error.message`, never a blank page. */

export type Service = 'reporting' | 'dispatch' | 'ledger' | 'notification' | 'gateway' | 'dev'

export interface FieldError {
  field: string
  message: string
}

export class ApiError extends Error {
  readonly status: number
  readonly title: string
  readonly fieldErrors: FieldError[]
  readonly body: unknown

  constructor(status: number, title: string, message: string, fieldErrors: FieldError[] = [], body: unknown = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.title = title
    this.fieldErrors = fieldErrors
    this.body = body
  }

  /** No answer at all: offline, the gateway down, or the request cut off. */
  get isNetwork(): boolean {
    return this.status === 0
  }
}

const STATUS_WORDS: Record<number, string> = {
  400: '请求有误',
  401: '登录已失效，请重新登录',
  403: '没有权限进行此操作',
  404: '找不到该内容',
  409: '状态已变化，请刷新后重试',
  413: '文件太大',
  415: '不支持的文件类型',
  422: '填写的内容有误',
  429: '操作太频繁，请稍后再试',
  502: '服务暂时不可用，请稍后再试',
  503: '服务暂时不可用，请稍后再试',
  504: '服务响应超时，请稍后再试',
}

let tokenProvider: () => string | null = () => null
let onUnauthorized: () => void = () => {}

/** The app says where the current token is and what to do when the services refuse it. */
export function configureApi(options: { token: () => string | null; unauthorized?: () => void }): void {
  tokenProvider = options.token
  onUnauthorized = options.unauthorized ?? (() => {})
}

export interface RequestOptions {
  method?: string
  query?: Record<string, string | number | boolean | string[] | null | undefined>
  json?: unknown
  form?: FormData
  headers?: Record<string, string>
  idempotencyKey?: string
  /** Read the answer as a Blob (photos, CSV) instead of JSON. */
  blob?: boolean
  signal?: AbortSignal
}

export function apiUrl(service: Service, path: string, query?: RequestOptions['query']): string {
  const url = new URL(`/api/${service}${path}`, window.location.origin)
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === null || value === undefined || value === '') continue
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, String(item))
  }
  return url.pathname + url.search
}

export async function api<T>(service: Service, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...(options.headers ?? {}) }
  const token = tokenProvider()
  if (token) headers.Authorization = `Bearer ${token}`
  if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey
  let body: BodyInit | undefined
  if (options.form) body = options.form
  else if (options.json !== undefined) {
    body = JSON.stringify(options.json)
    headers['Content-Type'] = 'application/json'
  }
  let response: Response
  try {
    response = await fetch(apiUrl(service, path, options.query), {
      method: options.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      signal: options.signal,
    })
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error
    throw new ApiError(0, 'offline', '无法连接服务器，请检查网络')
  }
  if (!response.ok) throw await errorFrom(response)
  if (response.status === 204 || response.status === 304) return undefined as T
  if (options.blob) return (await response.blob()) as T
  const text = await response.text()
  return (text ? JSON.parse(text) : undefined) as T
}

/** The problem+json answer of a failed request, in words. */
export async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown = null
  try {
    body = await response.json()
  } catch {
    body = null
  }
  const problem = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>
  const title = typeof problem.title === 'string' ? problem.title : response.statusText
  const detail = typeof problem.detail === 'string' ? problem.detail : ''
  const fieldErrors = fieldErrorsOf(problem)
  const words = STATUS_WORDS[response.status] ?? `出错了（${response.status}）`
  const message = detail ? `${words}：${detail}` : words
  if (response.status === 401) onUnauthorized()
  return new ApiError(response.status, title, message, fieldErrors, body)
}

function fieldErrorsOf(problem: Record<string, unknown>): FieldError[] {
  const errors = problem.errors
  if (!Array.isArray(errors)) return []
  return errors.map((item) => {
    const entry = (item ?? {}) as Record<string, unknown>
    const location = Array.isArray(entry.loc) ? entry.loc.join('.') : String(entry.field ?? entry.pointer ?? '')
    const message = String(entry.msg ?? entry.message ?? entry.detail ?? JSON.stringify(entry))
    return { field: location, message }
  })
}

/** A fresh key for a request that must take effect once however often it is sent. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID()
}
