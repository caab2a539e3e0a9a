/** A clock the deadlines count down against, ticking every 30 seconds while anyone watches. */
import { onMounted, onUnmounted, ref, type Ref } from 'vue'

export function useNow(intervalMs = 30000): Ref<number> {
  const now = ref(Date.now())
  let timer: number | undefined
  onMounted(() => {
    timer = window.setInterval(() => (now.value = Date.now()), intervalMs)
  })
  onUnmounted(() => window.clearInterval(timer))
  return now
}
