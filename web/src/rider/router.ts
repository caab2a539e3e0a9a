/** The rider's screens. Only 随手拍 is in the first script; every other screen is loaded when
 * the rider opens it. Hash history: the gateway serves one index.html at `/`. */
import { createRouter, createWebHashHistory, type RouteLocationNormalized } from 'vue-router'

import { session } from './auth'
import HomePage from './pages/HomePage.vue'

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
  document.title = to.meta.title ? `${to.meta.title} · 随手拍` : '随手拍 · gridloop'
})
