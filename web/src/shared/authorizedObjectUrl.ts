/** Pictures the services give only to a bearer of a token: an `<img src>` cannot send the token,
 * so the bytes are fetched with {@link api} and shown from an object URL, which is revoked once
 * nothing shows it any more. */
import { onBeforeUnmount, ref, shallowRef, toValue, watch, type MaybeRefOrGetter, type Ref } from 'vue'

import { api, type Service } from './api'

/** Fetches `path` of `service` and answers an object URL of its bytes; the caller revokes it. */
export async function fetchObjectUrl(service: Service, path: string): Promise<string> {
  return URL.createObjectURL(await api<Blob>(service, path, { blob: true }))
}

export interface AuthorizedObjectUrl {
  /** The object URL of the bytes, once they are here. */
  url: Readonly<Ref<string | null>>
  /** Why the bytes could not be fetched, or null. */
  error: Readonly<Ref<Error | null>>
  loading: Readonly<Ref<boolean>>
}

/** The object URL of `path` for the component that calls it: fetched again whenever the path
 * changes (an answer for a path no longer wanted is dropped), each URL revoked when the next
 * replaces it and when the component goes away. */
export function useAuthorizedObjectUrl(service: Service, path: MaybeRefOrGetter<string | null>): AuthorizedObjectUrl {
  const url = ref<string | null>(null)
  const error = shallowRef<Error | null>(null)
  const loading = ref(false)
  let current = 0

  function revoke(): void {
    if (url.value) URL.revokeObjectURL(url.value)
    url.value = null
  }

  async function load(wanted: string | null): Promise<void> {
    const ticket = ++current
    revoke()
    error.value = null
    loading.value = wanted !== null
    if (wanted === null) return
    try {
      const fetched = await fetchObjectUrl(service, wanted)
      if (ticket === current) url.value = fetched
      else URL.revokeObjectURL(fetched)
    } catch (caught) {
      if (ticket === current) error.value = caught instanceof Error ? caught : new Error(String(caught))
    } finally {
      if (ticket === current) loading.value = false
    }
  }

  watch(() => toValue(path), load, { immediate: true })
  onBeforeUnmount(() => {
    current++
    revoke()
  })
  return { url, error, loading }
}
