/**
 * Shared by the interop tests (our adapters against the providers' own SDKs): throwaway
 * RSA-2048 key pairs, and a tiny loopback "provider" that records each request it gets and
 * answers whatever the test tells it to.
 */
import { generateKeyPairSync } from 'node:crypto';

/** PKCS#8 private / SPKI public PEM, as node:crypto writes them (with a trailing newline). */
export type RsaPair = { privateKey: string; publicKey: string };

export function rsaPair(): RsaPair {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

export type Captured = { method: string; pathAndQuery: string; headers: Headers; body: string };

export type FakeProvider = {
  /** `http://127.0.0.1:<port>` */
  url: string;
  requests: Captured[];
  stop(): Promise<void>;
};

/** A Bun.serve on 127.0.0.1, port 0, recording every request and answering with `answer`. */
export function fakeProvider(answer: (request: Captured) => Response | Promise<Response>): FakeProvider {
  const requests: Captured[] = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const captured = { method: request.method, pathAndQuery: `${url.pathname}${url.search}`, headers: request.headers, body: await request.text() };
      requests.push(captured);
      return answer(captured);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    stop: () => server.stop(true),
  };
}
