// First: the identity provider's `#token=…` is read before the router rewrites the fragment.
import './handback'
import 'vant/es/toast/style'
import 'vant/es/dialog/style'
import 'vant/es/image-preview/style'
import './theme.css'

import { createApp, watch } from 'vue'

import App from './App.vue'
import { restoreSession, riderId, whenExpired } from './auth'
import { flush, startOutbox } from './outbox'
import { prefetchScreens, router } from './router'
import { startOfflineShell } from './pwa'
import { startUnreadBadge, stopUnreadBadge } from './unread'

restoreSession()
whenExpired(() => {
  void router.replace({ name: 'sign-in', query: { next: router.currentRoute.value.fullPath } })
})

createApp(App).use(router).mount('#app')
prefetchScreens()
startOfflineShell(router)

void startOutbox()
watch(
  riderId,
  (rider) => {
    if (rider) {
      startUnreadBadge()
      void flush()
    } else stopUnreadBadge()
  },
  { immediate: true },
)
