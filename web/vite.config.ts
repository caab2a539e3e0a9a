import { fileURLToPath, URL } from 'node:url'

import { VantResolver } from '@vant/auto-import-resolver'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import { defineConfig } from 'vite'

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
