/** The rider's screens. Only 随手拍 is in the first script; every other screen is loaded when
 * the rider opens it. Hash history: the gateway serves one index.html at `/`. */
import { createRouter, createWebHashHistory, type RouteLocationNormalized } from 'vue-router'

import { session } from './auth'
import HomePage from './pages/HomePage.vue'
import { showToast } from './toast'

declare module 'vue-router' {
  interface RouteMeta {
    /** The bottom tab the screen belongs to (none: no tab bar). */
    tab?: 'home' | 'reports' | 'points' | 'inbox'
    title?: string
    public?: boolean
  }
}

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', name: 'home', component: HomePage, meta: { tab: 'home', title: '随手拍' } },
    {
      path: '/sign-in',
      name: 'sign-in',
      component: () => import('./pages/SignInPage.vue'),
      meta: { public: true, title: '登录' },
    },
    {
      path: '/reports',
      name: 'reports',
      component: () => import('./pages/ReportsPage.vue'),
      meta: { tab: 'reports', title: '我的上报' },
    },
    {
      path: '/reports/:id',
      name: 'report',
      component: () => import('./pages/ReportPage.vue'),
      props: true,
      meta: { tab: 'reports', title: '上报详情' },
    },
    {
      path: '/points',
      name: 'points',
      component: () => import('./pages/PointsPage.vue'),
      meta: { tab: 'points', title: '积分' },
    },
    {
      path: '/points/redemptions/:id',
      name: 'redemption',
      component: () => import('./pages/RedemptionPage.vue'),
      props: true,
      meta: { tab: 'points', title: '兑换凭证' },
    },
    {
      path: '/inbox',
      name: 'inbox',
      component: () => import('./pages/InboxPage.vue'),
      meta: { tab: 'inbox', title: '消息' },
    },
    {
      path: '/inbox/settings',
      name: 'inbox-settings',
      component: () => import('./pages/SettingsPage.vue'),
      meta: { tab: 'inbox', title: '消息设置' },
    },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

router.beforeEach((to: RouteLocationNormalized) => {
  if (to.meta.public || session.value) return true
  return { name: 'sign-in', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
})

router.afterEach((to) => {
  document.title = to.meta.title && to.meta.title !== '随手拍' ? `随手拍 · ${to.meta.title}` : '随手拍 · gridloop'
})

/** A screen whose script cannot be fetched (offline) says so instead of doing nothing. */
router.onError((error: unknown) => {
  const words = error instanceof Error ? error.message : String(error)
  if (/dynamically imported module|Failed to fetch|Importing a module script failed/i.test(words)) {
    showToast({ message: '网络不可用，暂时无法打开此页面', type: 'fail' })
  } else showToast({ message: `页面出错：${words}`, type: 'fail' })
})

const PREFETCH_DELAY_MS = 1_000

/** Once the first screen is up and the phone is idle, fetch the other screens' scripts (not the
 * map's), so 我的上报 and the rest still open when the network drops later. */
export function prefetchScreens(): void {
  const run = (): void => {
    if (!navigator.onLine) return
    for (const route of router.getRoutes()) {
      const load = route.components?.default
      if (typeof load === 'function' && !('render' in load) && !('setup' in load)) {
        void (load as () => Promise<unknown>)().catch(() => undefined)
      }
    }
  }
  setTimeout(() => {
    if ('requestIdleCallback' in window) window.requestIdleCallback(run, { timeout: 5_000 })
    else run()
  }, PREFETCH_DELAY_MS)
}
