/**
 * Signatures cover the request target as the client sent it. Bun hands the application a URL
 * already resolved (`/v1/./payments/x` and `/v1/%2e/payments/x` arrive as `/v1/payments/x`,
 * `\` as `/`), so the raw target is never visible — but Bun's own router matches the raw
 * target. The signed routes are therefore also given to Bun: a request Bun matched to one of
 * them, with no dot or backslash in its path parameters, was sent in canonical form; any other
 * request that reaches a signed route was not, and is refused (auth.ts) before its signature is
 * looked at, so no spelling of a path can be signed as another.
 */
import type { Server } from 'bun';
import type { Context, Hono } from 'hono';
import { matchedRoutes } from 'hono/route';

/** What the application is given with each request besides it (Hono's `c.env`). */
export type ServeEnv = { server: Server<undefined>; rawTarget: 'canonical' | 'unchecked' };

type Fetch = (request: Request, env: ServeEnv) => Response | Promise<Response>;

/** A path parameter the URL parser would have resolved or rewritten: the target was not canonical. */
const isResolvable = (value: string) => value === '.' || value === '..' || value.includes('\\') || value.includes('#');

/** The signed routes (under /v1) as Bun route patterns: Hono's and Bun's `:param` syntax agree. */
function signedPatterns(app: Hono<any>): string[] {
  return [...new Set(app.routes.filter((r) => r.method !== 'ALL' && r.path.startsWith('/v1/')).map((r) => r.path))];
}

/** `routes` and `fetch` for Bun.serve: the app behind both, told whether Bun saw a canonical signed target. */
export function serveOptions(app: Hono<any>) {
  const fetch = app.fetch as Fetch;
  const routes = Object.fromEntries(signedPatterns(app).map((pattern) => [
    pattern,
    (request: Bun.BunRequest, server: Server<undefined>) => {
      const canonical = !Object.values(request.params as Record<string, string>).some(isResolvable);
      return fetch(request, { server, rawTarget: canonical ? 'canonical' : 'unchecked' });
    },
  ]));
  return { routes, fetch: (request: Request, server: Server<undefined>) => fetch(request, { server, rawTarget: 'unchecked' }) };
}

/**
 * True when this request reaches a signed route without Bun having matched its raw target to
 * that route. Without the env (a test calling `app.request`), there is no raw target to judge.
 */
export function nonCanonicalTarget(c: Context): boolean {
  const env = c.env as Partial<ServeEnv> | undefined;
  if (env?.rawTarget !== 'unchecked') return false;
  return matchedRoutes(c).some((r) => r.method !== 'ALL');
}
