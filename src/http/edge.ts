/**
 * What the HTTP edge enforces besides authentication (issue #11): the settings it reads, the
 * security headers of every HTML page, and the optional token in front of /metrics.
 */
import { createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { OutboundPolicy } from '../net/outbound.ts';
import type { Range } from '../net/ip.ts';
import { constantTimeEqual } from '../secrets.ts';
import type { CallbackIntakeOptions } from './callback-intake.ts';
import type { AdmissionSettings } from './admission.ts';
import { ApiError } from './errors.ts';

export type EdgeSettings = {
  outbound: OutboundPolicy;
  /** Bearer token /metrics asks for; null leaves it open. */
  metricsToken: string | null;
  callbackIntake: CallbackIntakeOptions;
  /** Requests in flight per class, and the short wait beyond (admission.ts). */
  admission: AdmissionSettings;
  /** Operators' browser sessions: how long one lasts, and whether its cookie is `Secure` (PUBLIC_URL is https). */
  adminSessions: { sessionMs: number; secureCookie: boolean };
  /** Reverse proxies whose X-Forwarded-For names the caller (TRUSTED_PROXIES; empty: the socket's peer is the caller). */
  trustedProxies: readonly Range[];
};

/** A CSP source that allows one known inline script, by its SHA-256. */
export const scriptHash = (source: string) => `'sha256-${createHash('sha256').update(source).digest('base64')}'`;

/**
 * The policy of every HTML page that does not set its own (the cashier does): nothing from
 * elsewhere, scripts only from paycenter itself or the known inline ones by hash, no framing.
 * Inline styles stay allowed: the pages and the chart library use them, and they cannot run code.
 */
export function htmlPolicy(inlineScripts: readonly string[]): string {
  const scripts = ["'self'", ...inlineScripts.map(scriptHash)].join(' ');
  return `default-src 'none'; script-src ${scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; `
    + "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
}

/** nosniff on every answer; on an HTML page without a policy of its own, the strict one and no framing. */
export function htmlSecurity(inlineScripts: readonly string[]): MiddlewareHandler {
  const policy = htmlPolicy(inlineScripts);
  return async (c, next) => {
    await next();
    c.res.headers.set('X-Content-Type-Options', 'nosniff');
    if (!c.res.headers.get('content-type')?.startsWith('text/html')) return;
    if (!c.res.headers.has('content-security-policy')) c.res.headers.set('Content-Security-Policy', policy);
    c.res.headers.set('X-Frame-Options', 'DENY');
  };
}

/** /metrics behind `Authorization: Bearer $METRICS_TOKEN` when one is set (business volumes are not public). */
export function metricsGuard(token: string | null): MiddlewareHandler {
  return async (c, next) => {
    if (token !== null) {
      const header = c.req.header('authorization') ?? '';
      const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
      if (!constantTimeEqual(token, given)) throw new ApiError('unauthenticated', '/metrics needs Authorization: Bearer <METRICS_TOKEN>');
    }
    await next();
  };
}
