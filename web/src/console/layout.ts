/** Whether the screen is phone-sized (the console lays itself out for 390 px wide phones). */
import { onMounted, onUnmounted, ref, type Ref } from 'vue'

export function useNarrow(maxWidth = 640): Ref<boolean> {
  const query = window.matchMedia(`(max-width: ${maxWidth}px)`)
  const narrow = ref(query.matches)
  const update = (event: MediaQueryListEvent) => (narrow.value = event.matches)
  onMounted(() => query.addEventListener('change', update))
  onUnmounted(() => query.removeEventListener('change', update))
  return narrow
}
