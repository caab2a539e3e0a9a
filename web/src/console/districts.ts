/** District names (dispatch's public list), loaded once. */
import { ref } from 'vue'

import { api } from '@shared/api'

import type { DistrictView } from './types'

export const districtNames = ref<Record<string, string>>({})
let loading: Promise<void> | null = null

export function loadDistrictNames(): Promise<void> {
  loading ??= api<DistrictView[]>('dispatch', '/v1/districts')
    .then((list) => {
      districtNames.value = Object.fromEntries(list.map((d) => [d.code, d.name]))
    })
    .catch(() => {
      loading = null // names are a nicety: codes are shown instead
    })
  return loading
}

export function districtLabel(code: string): string {
  const name = districtNames.value[code]
  return name ? `${name}（${code}）` : code
}
