/** Moving between the rider's screens. */
import { useRouter } from 'vue-router'

/** 返回 for a screen opened from another: back in the history, or to the screen named
 * `fallback` when this one was opened directly (a link, a reload). */
export function useBack(fallback: string): () => void {
  const router = useRouter()
  return () => {
    if (window.history.state?.back) router.back()
    else void router.push({ name: fallback })
  }
}
