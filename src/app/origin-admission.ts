// The who-may-connect checks as an app uses them (both paths of forward http): the Origin
// and Host guard, the refusals counted (shadowcat_auth_failures_total) and logged at most
// once a second per client address, the --cors lines, and the start warnings for '*'.

import type { Config } from '../config.js';
import { isLoopback } from '../config.js';
import { reasonFor } from '../http/error-response.js';
import type { ProxyError } from '../errors.js';
import { LogThrottle } from '../observe/log-throttle.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import { OriginGuard } from '../policy/origin-guard.js';

/** What an app's transports call. */
export interface OriginAdmission {
  /** Null lets the request through, else its 403 (counted and logged). */
  admitOrigin(host: string | null, origin: string | null, clientIp: string): ProxyError | null;
  /** --cors: the header lines for an answer to `origin` (already admitted); null without --cors. */
  corsLines(origin: string): string | null;
  /** The same as headers, for node:http answers; null without --cors. */
  corsHeaders(origin: string): Record<string, string> | null;
}

/** The checks for `config`; warnings for '*' go to `warnings` and the log. */
export function originAdmission(config: Config, metrics: Metrics, log: Logger, warnings: string[]): OriginAdmission {
  const guard = new OriginGuard({ loopback: isLoopback(config.host), allowedHosts: config.allowedHosts, allowedOrigins: config.allowedOrigins });
  for (const [flag, list] of [['--allowed-origins', config.allowedOrigins], ['--allowed-hosts', config.allowedHosts]] as const) {
    if (!list.includes('*')) continue;
    const text = `${flag} * lets ${flag === '--allowed-origins' ? 'any web page' : 'any Host name (DNS rebinding)'} reach the proxy`;
    warnings.push(text);
    log.warn(text);
  }
  const throttle = new LogThrottle();
  return {
    admitOrigin(host, origin, clientIp) {
      const refused = guard.check(host, origin);
      if (refused === null) return null;
      const reason = reasonFor(refused);
      metrics.authFailures.labels(reason).inc();
      const skipped = throttle.allow(clientIp);
      if (skipped !== null) log.warn({ client: clientIp, reason, host: host ?? undefined, origin: origin ?? undefined, skipped: skipped || undefined }, 'request refused: Origin or Host not allowed');
      return refused;
    },
    corsLines: config.cors ? (origin) => `Access-Control-Allow-Origin: ${origin}\r\nAccess-Control-Expose-Headers: Mcp-Session-Id, WWW-Authenticate\r\nVary: Origin\r\n` : () => null,
    corsHeaders: config.cors ? (origin) => ({ 'access-control-allow-origin': origin, 'access-control-expose-headers': 'Mcp-Session-Id, WWW-Authenticate', vary: 'Origin' }) : () => null,
  };
}
