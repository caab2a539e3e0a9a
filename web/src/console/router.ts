import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router'

import type { Role } from '@shared/session'

import { adoptTokenFromLocation, homeOf, role, session } from './auth'

declare module 'vue-router' {
  interface RouteMeta {
    roles?: Role[]
    title?: string
  }
}

const WORKERS: Role[] = ['grid_worker', 'department']
const SUPERVISING: Role[] = ['supervisor', 'admin']

const routes: RouteRecordRaw[] = [
  { path: '/', redirect: () => homeOf(role.value) },
  { path: '/sign-in', name: 'sign-in', component: () => import('./views/SignIn.vue'), meta: { title: '登录' } },
  { path: '/my', name: 'my', component: () => import('./views/MyOrders.vue'), meta: { roles: WORKERS, title: '我的工单' } },
  {
    path: '/orders',
    name: 'orders',
    component: () => import('./views/Orders.vue'),
    meta: { roles: SUPERVISING, title: '工单' },
  },
  {
    path: '/orders/:id',
    name: 'order',
    component: () => import('./views/OrderDetail.vue'),
    props: true,
    meta: { roles: [...WORKERS, ...SUPERVISING], title: '工单详情' },
  },
  { path: '/review', name: 'review', component: () => import('./views/Review.vue'), meta: { roles: SUPERVISING, title: '待核实' } },
  {
    path: '/escalations',
    name: 'escalations',
    component: () => import('./views/Escalations.vue'),
    meta: { roles: SUPERVISING, title: '督办' },
  },
  { path: '/map', name: 'map', component: () => import('./views/GridMap.vue'), meta: { roles: SUPERVISING, title: '网格地图' } },
  { path: '/stats', name: 'stats', component: () => import('./views/Stats.vue'), meta: { roles: SUPERVISING, title: '综合评价' } },
  { path: '/admin', name: 'admin', component: () => import('./views/Admin.vue'), meta: { roles: ['admin'], title: '基础数据' } },
  { path: '/:pathMatch(.*)*', redirect: '/' },
]

export const router = createRouter({ history: createWebHashHistory(), routes })

router.beforeEach((to) => {
  if (adoptTokenFromLocation()) return session.value ? homeOf(role.value) : { name: 'sign-in', replace: true }
  if (to.name === 'sign-in') return session.value ? homeOf(role.value) : true
  if (!session.value) return { name: 'sign-in' }
  const allowed = to.meta.roles
  if (allowed && role.value && !allowed.includes(role.value)) return homeOf(role.value)
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · 网格工作台` : '网格工作台'
})
