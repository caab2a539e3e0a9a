/** The gateway's configuration (environment, sign-in, map tiles), read once. */
import { api } from '@shared/api'

import type { GatewayConfig } from './types'

let config: Promise<GatewayConfig> | null = null

export function gatewayConfig(): Promise<GatewayConfig> {
  config ??= api<GatewayConfig>('gateway', '/config').catch((error: unknown) => {
    config = null
    throw error
  })
  return config
}
