/** Short messages over the screen ("已保存", an error in words), in a live region a screen
 * reader reads out. (Vant's toast is a dialog without a name; this one is a status.) */
import { shallowRef } from 'vue'

export interface Toast {
  id: number
  message: string
  type: 'info' | 'success' | 'fail'
}

export const toasts = shallowRef<Toast[]>([])

let next = 1
const SHOWN_MS = 2_500

export function showToast(options: string | { message: string; type?: Toast['type'] }): void {
  const { message, type = 'info' } = typeof options === 'string' ? { message: options } : options
  const toast: Toast = { id: next++, message, type }
  toasts.value = [...toasts.value.slice(-2), toast]
  setTimeout(() => {
    toasts.value = toasts.value.filter((shown) => shown.id !== toast.id)
  }, SHOWN_MS + Math.min(3_000, message.length * 60))
}
