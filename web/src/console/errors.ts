/** Every failure is shown in words: the ApiError's message, or the error's own. */
import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'

import { ApiError } from '@shared/api'

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message
  if (error instanceof DOMException && error.name === 'AbortError') return '请求已取消'
  if (error instanceof Error && error.message) return error.message
  return '出错了，请稍后再试'
}

export function showError(error: unknown, prefix = ''): void {
  ElMessage({ type: 'error', message: prefix ? `${prefix}：${messageOf(error)}` : messageOf(error), showClose: true, duration: 6000 })
}

export function showSuccess(message: string): void {
  ElMessage({ type: 'success', message, duration: 2500 })
}
