/**
 * A small HTTP proxy on 127.0.0.1 in front of the real app, for what the app will not do on
 * demand: answer 503 or 429, drop an answer it already produced, or never answer.
 */
export type Tried = { method: string; path: string; authorization: string | null; body: string };
export type Step = 'forward' | 'forward_then_503' | 'hang' | Response;

/** `plan(n)` decides the n-th request (1-based); everything after the plan runs out is forwarded. */
export function startProxy(target: string, plan: (n: number, tried: Tried) => Step) {
  const tried: Tried[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const body = await request.text();
      const entry = { method: request.method, path: url.pathname + url.search, authorization: request.headers.get('authorization'), body };
      tried.push(entry);
      const step = plan(tried.length, entry);
      if (step instanceof Response) return step;
      if (step === 'hang') return new Promise<Response>(() => {});
      const forwarded = await fetch(target + entry.path, {
        method: request.method, headers: request.headers, body: request.method === 'GET' ? undefined : body,
      });
      if (step === 'forward') return forwarded;
      await forwarded.arrayBuffer();
      return apiError(503, 'unavailable');
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, tried, stop: () => server.stop(true) };
}

/** API.md's error body, as paycenter sends it. */
export function apiError(status: number, code: string, headers: Record<string, string> = {}): Response {
  return Response.json({ error: { code, message: `proxy says ${code}`, field: null, request_id: 'req_proxy' } }, { status, headers });
}
