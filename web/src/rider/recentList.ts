/** Short lists of strings the phone keeps per rider, the most recent first and each once. */

export interface RecentList {
  /** The rider's list; empty when there is none or it cannot be read. */
  read: (rider: string) => string[]
  /** Put `value` first (moving it up if it is there already), keeping at most the limit. */
  remember: (rider: string, value: string) => void
}

/** A list kept in localStorage under `${prefix}.${rider}`. */
export function recentList(prefix: string, limit: number): RecentList {
  const keyOf = (rider: string): string => `${prefix}.${rider}`

  function read(rider: string): string[] {
    try {
      const raw = localStorage.getItem(keyOf(rider))
      const values = raw ? (JSON.parse(raw) as unknown) : []
      return Array.isArray(values) ? values.filter((value): value is string => typeof value === 'string') : []
    } catch {
      return []
    }
  }

  function remember(rider: string, value: string): void {
    const values = [value, ...read(rider).filter((known) => known !== value)].slice(0, limit)
    localStorage.setItem(keyOf(rider), JSON.stringify(values))
  }

  return { read, remember }
}
