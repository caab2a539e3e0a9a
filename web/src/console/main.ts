import { createApp, h } from 'vue'

createApp({ render: () => h('main', '网格工作台') }).mount('#app')
