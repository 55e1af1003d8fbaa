/**
 * What the floor's servers share (bench/floor/server.ts for creates, bench/floor/payment-server.ts
 * for whole payments): their environment, paycenter's own group commit in front of the floor's
 * writer thread, and a signed create read as every create must read it — the signature over the
 * raw body, the timestamp's window, the body by paycenter's own valibot schema, the amount parsed,
 * the order's input — and nothing paycenter does besides (no merchant lookup, replay check,
 * admission, body or rate limit, risk, metrics, logs or request ids).
 */
import type { Hono } from 'hono';
import * as v from 'valibot';
import { commit_queue_writes_max, commitsInFlightFor } from '../../actors/durable-commit.ts';
import { GroupCommitter } from '../../actors/group-commit.ts';
import type { PaymentInput } from '../../machines/payment.model.ts';
import { nonce_ttl_ms } from '../../src/http/nonces.ts';
import { createPayment } from '../../src/http/schemas.ts';
import { parseAuthorization, requestSignature, withinWindow } from '../../src/http/signature.ts';
import { newId } from '../../src/ids.ts';
import { parseAmount } from '../../src/money.ts';
import { constantTimeEqual } from '../../src/secrets.ts';
import type { FloorBatch, FloorJournal, FloorWrite } from './writer.ts';

/**
 * Set by the bench that starts a floor server; one started without them refuses to start rather
 * than guess (an empty FLOOR_DATABASE would open a temporary, non-durable database). `more` names
 * a server's own variables.
 */
export function floorEnvironment<T extends v.ObjectEntries>(more: T) {
  const parsed = v.safeParse(v.object({
    FLOOR_DATABASE: v.pipe(v.string(), v.minLength(1)), FLOOR_MERCHANT_ID: v.string(), FLOOR_MERCHANT_SECRET: v.string(),
    PORT: v.pipe(v.string(), v.regex(/^\d+$/)), ...more,
  }), process.env);
  if (parsed.success) return parsed.output;
  const [issue] = parsed.issues;
  console.error(`floor server: ${v.getDotPath(issue) ?? 'the environment'}: ${issue.message}`);
  process.exit(1);
}

/**
 * paycenter's own group commit, at its default limits (src/config.ts: COMMIT_BATCH_MAX 64,
 * COMMIT_WAIT_MAX_MS 4), in front of a writer thread that gets each batch as JSON text, as
 * paycenter's SQLite store hands its batches over. A write that fails stops the process: the
 * benches send nothing that should fail.
 */
export function startCommits(): GroupCommitter<FloorWrite, true> {
  const writer = new Worker(new URL('./writer.ts', import.meta.url).href);
  writer.addEventListener('error', (error) => {
    console.error('floor writer failed:', error.message);
    process.exit(1);
  });
  const committing = new Map<number, () => void>();
  let batches = 0;
  writer.onmessage = (message: MessageEvent<number>) => {
    committing.get(message.data)?.();
    committing.delete(message.data);
  };
  return new GroupCommitter<FloorWrite, true>((writes) => new Promise((committed) => {
    const batch = ++batches;
    committing.set(batch, () => committed(writes.map(() => true)));
    writer.postMessage({ batch, json: JSON.stringify(writes) } satisfies FloorBatch);
  }), { batchMax: 64, waitMaxMs: 4, inFlightMax: commitsInFlightFor('sqlite'), queueWritesMax: commit_queue_writes_max });
}

const refused = (code: string) => Response.json({ error: { code } }, { status: code === 'unauthenticated' ? 401 : 400 });

export type SignedCreate = { input: PaymentInput; fields: v.InferOutput<typeof createPayment>; nonce: string; now: number };

/** The floor's one merchant; its notify_url is where an order that names none is notified. */
export type FloorMerchant = { id: string; secret: string; notifyUrl: string };

/** A create to `path` read and checked, or the answer refusing it. */
export async function readCreate(request: Request, path: string, merchant: FloorMerchant): Promise<SignedCreate | Response> {
  const parts = parseAuthorization(request.headers.get('authorization') ?? undefined);
  const now = Date.now();
  if (!parts || parts.merchantId !== merchant.id || !withinWindow(parts.timestamp, now)) return refused('unauthenticated');
  const body = new Uint8Array(await request.arrayBuffer());
  if (!constantTimeEqual(requestSignature(merchant.secret, 'POST', path, parts.timestamp, parts.nonce, body), parts.signature)) return refused('unauthenticated');
  const parsed = v.safeParse(createPayment, JSON.parse(new TextDecoder().decode(body)));
  if (!parsed.success) return refused('invalid_request');
  const fields = parsed.output;
  const amount = parseAmount(fields.amount, fields.currency);
  if (!amount.ok) return refused('invalid_amount');
  const input: PaymentInput = {
    id: newId('pay', now), merchantId: merchant.id, merchantOrderNo: fields.merchant_order_no, amount: amount.minor, currency: fields.currency,
    subject: fields.subject, expiresAt: now + fields.expire_seconds * 1000, createdAt: now,
    details: {
      body: fields.body, notifyUrl: fields.notify_url ?? merchant.notifyUrl, returnUrl: fields.return_url, metadata: fields.metadata,
      userId: fields.user_id, clientIp: fields.client_ip, deviceId: fields.device_id,
    },
  };
  return { input, fields, nonce: parts.nonce, now };
}

/**
 * A new order's write: its snapshot after `journal`'s events (the create, and the pay when the
 * create names a method), its deadline's timer, its nonce and its flow, if any.
 */
export function orderWrite(created: SignedCreate, status: string, snapshot: unknown, journal: FloorJournal[], flowId: string | null): FloorWrite {
  const { input, nonce, now } = created;
  return {
    kind: 'order', id: input.id, merchantId: input.merchantId, merchantOrderNo: input.merchantOrderNo, status, amount: input.amount, snapshot, at: now,
    journal, timerId: newId('evt', now), dueAt: input.expiresAt, nonce, nonceExpiresAt: now + nonce_ttl_ms, flowId,
  };
}

/** Serves `app` on 127.0.0.1; SIGTERM (the bench's stop) exits cleanly, so a profile (`--cpu-prof`) is written. */
export function serveFloor(app: Hono, port: string): void {
  Bun.serve({ port: Number(port), hostname: '127.0.0.1', fetch: app.fetch });
  process.on('SIGTERM', () => process.exit(0));
}
