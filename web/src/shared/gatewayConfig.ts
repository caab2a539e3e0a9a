/** The gateway's configuration (environment, sign-in, map tiles), read once per page load. */
import { api } from './api'

export interface GatewayConfig {
  environment: 'development' | 'production'
  dev_sign_in: boolean
  sign_in_url: string | null
  map: { tile_url: string | null; attribution: string | null }
}

let pending: Promise<GatewayConfig> | null = null

/** The configuration, asked of the gateway the first time (and again after a failure). */
export function gatewayConfig(): Promise<GatewayConfig> {
  pending ??= api<GatewayConfig>('gateway', '/config').catch((error: unknown) => {
    pending = null
    throw error
  })
  return pending
}
