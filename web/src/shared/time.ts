/** Moments as the districts live them: in Asia/Shanghai (Beijing time), whatever the device's
 * zone. */

/** Beijing time to the minute, zh-CN (e.g. 2026/03/01 14:05). */
export const beijingMinutes = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
})

/** The moment an ISO 8601 text names, or null when it names none. */
export function parseMoment(iso: string): Date | null {
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? null : date
}
