/** A list the service hands out a page at a time, each answer with the cursor of the next. */
import { ref, type Ref } from 'vue'

import { wordsOf } from './format'
import type { Page } from './types'

export interface CursorList<T> {
  items: Ref<T[]>
  /** Where the next page starts; null when there is none. */
  cursor: Ref<string | null>
  loading: Ref<boolean>
  /** A page has come (the screen may say the list is empty). */
  loaded: Ref<boolean>
  /** Why the last page did not come, in words. */
  error: Ref<string | null>
  /** The first page anew, or with `more` the next one after those shown. */
  load: (more?: boolean) => Promise<void>
}

export function useCursorList<T>(fetchPage: (cursor: string | null) => Promise<Page<T>>): CursorList<T> {
  const items = ref([]) as Ref<T[]>
  const cursor = ref<string | null>(null)
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<string | null>(null)

  async function load(more = false): Promise<void> {
    loading.value = true
    error.value = null
    try {
      const page = await fetchPage(more ? cursor.value : null)
      items.value = more ? [...items.value, ...page.items] : page.items
      cursor.value = page.next_cursor
      loaded.value = true
    } catch (caught) {
      error.value = wordsOf(caught)
    } finally {
      loading.value = false
    }
  }

  return { items, cursor, loading, loaded, error, load }
}
