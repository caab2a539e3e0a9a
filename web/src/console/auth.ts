/** Who is signed in to the console, as a reactive value every screen reads. */
import { computed, ref } from 'vue'

import { configureApi } from '@shared/api'
import {
  clearSession,
  loadSession,
  saveSession,
  takeTokenFromLocation,
  TOKEN_IN_HASH,
  type Role,
  type Session,
} from '@shared/session'

const APP = 'console' as const

export const ROLE_LABELS: Record<Role, string> = {
  rider: '骑手',
  grid_worker: '网格员',
  department: '职能部门',
  supervisor: '监督员',
  admin: '管理员',
  service: '系统服务',
}

const STAFF_ROLES: Role[] = ['grid_worker', 'department', 'supervisor', 'admin']

export const session = ref<Session | null>(loadSession(APP))
/** Why the last sign-in was refused or ended, shown on the sign-in page. */
export const signInNotice = ref<string>('')

export const principal = computed(() => session.value?.principal ?? null)
export const role = computed<Role | null>(() => principal.value?.role ?? null)
/** The districts the token covers, its own first. */
export const myDistricts = computed(() => {
  const p = principal.value
  return p ? [...new Set([p.district, ...p.districts])] : []
})

let unauthorized: () => void = () => {}

export function initAuth(onUnauthorized: () => void): void {
  unauthorized = onUnauthorized
  configureApi({
    token: () => session.value?.token ?? null,
    unauthorized: () => {
      signOut('登录已失效，请重新登录')
      unauthorized()
    },
  })
}

/** Refuses a token that is not a staff member's (a rider's belongs in the rider's app). */
export function acceptSession(next: Session): boolean {
  if (!STAFF_ROLES.includes(next.principal.role)) {
    clearSession(APP)
    session.value = null
    signInNotice.value =
      next.principal.role === 'rider'
        ? '骑手请使用随手拍 /'
        : `此账号（${ROLE_LABELS[next.principal.role] ?? next.principal.role}）不能登录工作台`
    return false
  }
  session.value = next
  signInNotice.value = ''
  return true
}

/** Production: the identity provider sends the browser back with #token=<jwt> — at start, or
 * as a new hash on an open console. True when the address carried a token. */
export function adoptTokenFromLocation(): boolean {
  if (!TOKEN_IN_HASH.test(window.location.hash)) return false
  try {
    const handed = takeTokenFromLocation(APP)
    if (handed) acceptSession(handed)
  } catch (error) {
    clearSession(APP)
    session.value = null
    signInNotice.value = error instanceof Error ? `登录凭证无法识别：${error.message}` : '登录凭证无法识别'
  }
  return true
}

export function signInWithToken(token: string, name?: string): boolean {
  let next: Session
  try {
    next = saveSession(APP, token, name)
  } catch (error) {
    signInNotice.value = error instanceof Error ? error.message : '登录凭证无法识别'
    return false
  }
  return acceptSession(next)
}

export function signOut(notice = ''): void {
  clearSession(APP)
  session.value = null
  signInNotice.value = notice
}

/** The page a role lands on after signing in. */
export function homeOf(r: Role | null): string {
  switch (r) {
    case 'grid_worker':
    case 'department':
      return '/my'
    case 'supervisor':
      return '/orders'
    case 'admin':
      return '/admin'
    default:
      return '/sign-in'
  }
}

export function isStaffRole(r: Role | null): boolean {
  return r !== null && STAFF_ROLES.includes(r)
}
