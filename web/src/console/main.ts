import { createApp } from 'vue'

import { takeTokenFromLocation } from '@shared/session'

import App from './App.vue'
import { acceptSession, initAuth, signInNotice } from './auth'
import { router } from './router'
import './theme.css'

// Production: the identity provider comes back with #token=<jwt>; take it before the router
// reads the hash.
try {
  const handed = takeTokenFromLocation('console')
  if (handed) acceptSession(handed)
} catch (error) {
  signInNotice.value = error instanceof Error ? `登录凭证无法识别：${error.message}` : '登录凭证无法识别'
}

initAuth(() => {
  void router.replace({ name: 'sign-in' })
})

createApp(App).use(router).mount('#app')
