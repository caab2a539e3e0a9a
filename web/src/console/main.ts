import { createApp } from 'vue'

import App from './App.vue'
import { adoptTokenFromLocation, initAuth } from './auth'
import { router } from './router'
import './theme.css'

// Production: the identity provider comes back with #token=<jwt>; take it before the router
// reads the hash.
adoptTokenFromLocation()

initAuth(() => {
  void router.replace({ name: 'sign-in' })
})

createApp(App).use(router).mount('#app')
