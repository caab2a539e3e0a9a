/** The problems a district's reference documents were refused for, one row each: dispatch's
 * 422 carries `problems` ("grid_workers[3] (w-9): unknown grid …") for the catalogue, roster and
 * calendar, `detail` ("feature #4 (grid_id 'g-1'): …") for grids, and `errors` [{field,
 * message}] when the body itself does not fit the schema. */
import { ApiError } from '@shared/api'

export interface ProblemRow {
  /** Where in the file, in words: "网格员 第 4 行 (w-9)". */
  where: string
  /** Where, as the service named it: "grid_workers[3] (w-9)". */
  path: string
  message: string
}

const SECTION_WORDS: Record<string, string> = {
  features: '要素',
  grid_workers: '网格员',
  departments: '职能部门',
  supervisors: '监督员',
  categories: '类别',
  periods: '工作时段',
  holidays: '节假日',
  workdays: '调休工作日',
  weekend: '周末',
  gifts: '礼品',
  document: '文件',
  body: '文件',
}

/** "grid_workers[3] (w-9)" → "网格员 第 4 行 (w-9)"; "features[0]" → "要素 第 1 个". */
export function describeWhere(path: string): string {
  const match = /^([A-Za-z_]+)\[(\d+)\](.*)$/.exec(path.trim())
  if (match) {
    const [, section, index, rest] = match
    const unit = section === 'features' ? '个' : '行'
    return `${SECTION_WORDS[section] ?? section} 第 ${Number(index) + 1} ${unit}${rest}`
  }
  return SECTION_WORDS[path.trim()] ?? path
}

function splitProblem(text: string): ProblemRow {
  // "categories[2] (0103): code 0103 appears twice" — the place ends at the first ": ".
  const at = text.indexOf(': ')
  if (at > 0) {
    const path = text.slice(0, at)
    return { path, where: describeWhere(path), message: text.slice(at + 2) }
  }
  return { path: '', where: '文件', message: text }
}

const FEATURE = /^feature #(\d+)(?: \(grid_id '([^']*)'\))?: ([\s\S]*)$/

function gridRow(detail: string): ProblemRow {
  const match = FEATURE.exec(detail)
  if (!match) return { path: '', where: '文件', message: detail }
  const [, index, gridId, reason] = match
  const path = `features[${index}]` + (gridId ? ` (${gridId})` : '')
  return { path, where: describeWhere(path), message: reason }
}

/** The rows of a refused reference document (or one row saying what went wrong otherwise). */
export function problemRows(error: unknown, { grids = false, prefix = '' } = {}): ProblemRow[] {
  if (!(error instanceof ApiError)) {
    const message = error instanceof Error ? error.message : String(error)
    return [{ path: prefix, where: prefix ? describeWhere(prefix) : '文件', message }]
  }
  const body = (error.body && typeof error.body === 'object' ? error.body : {}) as Record<string, unknown>
  const withPrefix = (row: ProblemRow): ProblemRow =>
    prefix
      ? { path: row.path ? `${prefix} · ${row.path}` : prefix, where: row.path ? `${describeWhere(prefix)} · ${row.where}` : describeWhere(prefix), message: row.message }
      : row
  if (Array.isArray(body.problems) && body.problems.length) {
    return body.problems.map((p) => withPrefix(splitProblem(String(p))))
  }
  if (error.fieldErrors.length) {
    return error.fieldErrors.map((f) =>
      withPrefix({ path: f.field, where: f.field === 'body' ? '文件' : describeWhere(f.field), message: f.message }),
    )
  }
  const detail = typeof body.detail === 'string' ? body.detail : ''
  if (grids && detail && error.status === 422) return [withPrefix(gridRow(detail))]
  return [withPrefix({ path: '', where: '文件', message: error.message })]
}
