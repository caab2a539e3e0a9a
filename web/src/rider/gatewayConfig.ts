/** The gateway's configuration (environment, sign-in, map tiles), read once per page load. */
import { api } from '@shared/api'

import type { GatewayConfig } from './types'

let pending: Promise<GatewayConfig> | null = null

export function gatewayConfig(): Promise<GatewayConfig> {
  pending ??= api<GatewayConfig>('gateway', '/config').catch((error: unknown) => {
    pending = null
    throw error
  })
  return pending
}
