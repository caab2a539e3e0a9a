import { fileURLToPath, URL } from 'node:url'

import { VantResolver } from '@vant/auto-import-resolver'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import { defineConfig, type Plugin } from 'vite'
import { VitePWA } from 'vite-plugin-pwa'

/** The files of the rider's app in the bundle: its entry chunk and everything it imports, at
 * once or later (its lazy screens, the map), with their CSS and assets. The console's own
 * chunks are not among them. Filled in when the bundle is written, read when Workbox lists
 * what the service worker precaches (after the bundle is closed). */
function riderFiles(): Plugin & { files: Set<string> } {
  const files = new Set<string>()
  return {
    name: 'gridloop:rider-files',
    apply: 'build',
    files,
    generateBundle(_options, bundle) {
      files.clear()
      const entry = Object.values(bundle).find((file) => file.type === 'chunk' && file.isEntry && file.name === 'rider')
      if (!entry) this.error('the rider’s entry chunk is not in the bundle: nothing to precache')
      const queue = [entry.fileName]
      while (queue.length > 0) {
        const name = queue.pop()!
        if (files.has(name)) continue
        files.add(name)
        const file = bundle[name]
        if (file?.type !== 'chunk') continue
        queue.push(...file.imports, ...file.dynamicImports)
        for (const css of file.viteMetadata?.importedCss ?? []) files.add(css)
        for (const asset of file.viteMetadata?.importedAssets ?? []) files.add(asset)
      }
    },
  }
}

const rider = riderFiles()

// Two pages from one build: the rider's app at / and the staff console at /console/.
// Components of Vant and Element Plus are imported where they are used, so the rider's first
// screen carries no console code and no unused components.
export default defineConfig({
  plugins: [
    vue(),
    Components({
      resolvers: [VantResolver(), ElementPlusResolver()],
      dts: false,
    }),
    rider,
    // The rider's app starts offline: a service worker (sw.js, scope /) precaches its shell.
    // Only the rider's page registers it (src/rider/pwa.ts); nothing is injected into either
    // HTML page, the manifest is public/manifest.webmanifest linked from index.html only.
    VitePWA({
      strategies: 'generateSW',
      registerType: 'autoUpdate',
      injectRegister: false,
      manifest: false,
      filename: 'sw.js',
      scope: '/',
      workbox: {
        // A new release takes over at once (no waiting for every tab to close).
        skipWaiting: true,
        clientsClaim: true,
        // Caches of older Workbox versions go on activate; within the precache, Workbox
        // deletes on activate the files the new release no longer lists.
        cleanupOutdatedCaches: true,
        inlineWorkboxRuntime: true,
        sourcemap: false,
        globPatterns: ['index.html', 'manifest.webmanifest', 'icons/*.png', 'assets/**/*'],
        globIgnores: ['console/**'],
        // Only the rider's files: the console's chunks share /assets/ but are not the shell.
        manifestTransforms: [
          (entries) => {
            const kept = entries.filter((entry) => !entry.url.startsWith('assets/') || rider.files.has(entry.url))
            if (!kept.some((entry) => entry.url === 'index.html')) {
              throw new Error('index.html is not in the precache: the rider’s app would not start offline')
            }
            return { manifest: kept, warnings: [] }
          },
        ],
        // Hashed assets are served from the precache (cache first). `/` itself is not: the
        // page is asked of the network first (a new release arrives with it). When the network
        // fails, gives nothing within 4 s (poor coverage) or answers 5xx (the server is down),
        // the precached index.html answers: the page of the installed release, whose scripts
        // are all in the precache. A page fetched online is not kept apart from its release,
        // so it never names scripts the precache does not hold.
        directoryIndex: null,
        navigateFallback: null,
        runtimeCaching: [
          {
            urlPattern: ({ request, url }) => request.mode === 'navigate' && url.pathname === '/',
            handler: 'NetworkFirst',
            options: {
              networkTimeoutSeconds: 4,
              plugins: [
                {
                  fetchDidSucceed: async ({ response }) => {
                    if (response.status >= 500) throw new Error(`the server answered ${response.status}`)
                    return response
                  },
                  cacheWillUpdate: async () => null,
                  cachedResponseWillBeUsed: async () => (await caches.match('/index.html', { ignoreSearch: true })) ?? null,
                },
              ],
              precacheFallback: { fallbackURL: 'index.html' },
            },
          },
        ],
        // Nothing else is handled: /api/ and /console/ go to the network as without a worker.
      },
    }),
  ],
  resolve: {
    alias: { '@shared': fileURLToPath(new URL('./src/shared', import.meta.url)) },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    rollupOptions: {
      input: {
        rider: fileURLToPath(new URL('./index.html', import.meta.url)),
        console: fileURLToPath(new URL('./console/index.html', import.meta.url)),
      },
    },
  },
  server: {
    // `npm run dev` beside `make run`: the gateway answers the API on port 8000.
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
})
