/// <reference types="vite-plugin-pwa/client" />
/** The service worker that lets the rider's app start without a network (see docs/web.md):
 * registered once the page has loaded, so it never competes with the first screen.
 *
 * A new release's worker takes over at once (`autoUpdate`). The page is reloaded for it only
 * when the running page is of an older release than the worker's precache (its script is no
 * longer cached, so its other screens might not load offline), and then only when the rider
 * moves to another screen: a report being written is never thrown away. Usually the page is
 * already the new release (the page itself is fetched from the network first) and nothing is
 * reloaded. */
import { registerSW } from 'virtual:pwa-register'
import type { Router } from 'vue-router'

/** The running release's entry script (hashed, precached by the worker of the same release). */
const ENTRY_SCRIPT = import.meta.url

async function runningReleaseIsCached(): Promise<boolean> {
  try {
    return (await caches.match(ENTRY_SCRIPT)) !== undefined
  } catch {
    return true // no Cache Storage to ask: leave the page alone
  }
}

export function startOfflineShell(router: Router): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return
  let reloadOnNextScreen = false
  router.afterEach((to, from) => {
    if (reloadOnNextScreen && from.matched.length > 0 && to.fullPath !== from.fullPath) window.location.reload()
  })
  registerSW({
    onNeedReload() {
      void runningReleaseIsCached().then((cached) => {
        reloadOnNextScreen = !cached
      })
    },
    onRegisterError(error: unknown) {
      // The app still works online; it just cannot start offline on this phone.
      console.warn('随手拍：离线启动不可用（service worker 未能注册）', error)
    },
  })
}
