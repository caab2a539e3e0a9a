import { createApp, h } from 'vue'

createApp({ render: () => h('main', '随手拍') }).mount('#app')
