/** Who is signed in, kept in the browser per app (the rider's app and the console sign in
 * separately). A token comes from the development sign-in page or, in production, from the
 * city's identity provider, which sends the browser back with `#token=<jwt>`. */

export type Role = 'rider' | 'grid_worker' | 'department' | 'supervisor' | 'admin' | 'service'

export interface Principal {
  subject: string
  role: Role
  district: string
  districts: string[]
  grids: string[]
}

export interface Session {
  token: string
  principal: Principal
  /** Seconds since the epoch. */
  expiresAt: number
  /** A display name when the sign-in knew one. */
  name?: string
}

export type AppName = 'rider' | 'console'

function storageKey(app: AppName): string {
  return `gridloop.${app}.session`
}

/** The claims of a JWT, read without verifying it (the services verify every request). */
export function principalFromToken(token: string): { principal: Principal; expiresAt: number } {
  const parts = token.split('.')
  if (parts.length !== 3) throw new Error('登录凭证格式不正确')
  const json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/'))
  const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0))
  const claims = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>
  if (typeof claims.sub !== 'string' || typeof claims.role !== 'string' || typeof claims.district !== 'string') {
    throw new Error('登录凭证缺少 sub、role 或 district')
  }
  return {
    principal: {
      subject: claims.sub,
      role: claims.role as Role,
      district: claims.district,
      districts: Array.isArray(claims.districts) ? (claims.districts as string[]) : [],
      grids: Array.isArray(claims.grids) ? (claims.grids as string[]) : [],
    },
    expiresAt: typeof claims.exp === 'number' ? claims.exp : 0,
  }
}

export function loadSession(app: AppName): Session | null {
  const raw = localStorage.getItem(storageKey(app))
  if (!raw) return null
  try {
    const session = JSON.parse(raw) as Session
    if (session.expiresAt && session.expiresAt * 1000 < Date.now()) {
      localStorage.removeItem(storageKey(app))
      return null
    }
    return session
  } catch {
    localStorage.removeItem(storageKey(app))
    return null
  }
}

export function saveSession(app: AppName, token: string, name?: string): Session {
  const { principal, expiresAt } = principalFromToken(token)
  const session: Session = { token, principal, expiresAt, name }
  localStorage.setItem(storageKey(app), JSON.stringify(session))
  return session
}

/** `#token=…`, `#/token=…` or `…&token=…` in the URL fragment. */
export const TOKEN_IN_HASH = /(?:^#\/?|&)token=([^&]+)/

export function clearSession(app: AppName): void {
  localStorage.removeItem(storageKey(app))
}

/** A token handed back by the identity provider in the URL fragment (`#token=…`), taken once
 * and removed from the address bar. A hash router may already have rewritten the fragment to
 * `#/token=…` (vue-router's hash history does so when it is created), which is taken too. */
export function takeTokenFromLocation(app: AppName): Session | null {
  const match = TOKEN_IN_HASH.exec(window.location.hash)
  if (!match) return null
  history.replaceState(null, '', window.location.pathname + window.location.search)
  return saveSession(app, decodeURIComponent(match[1]))
}
