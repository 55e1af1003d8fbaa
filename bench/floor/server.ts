/**
 * The floor (bun run bench floor): the least a signed, durable create can be on paycenter's stack,
 * as one small Hono server. A create here does only what every create must — the signature checked
 * over the raw body, the timestamp's window, the body parsed as JSON and by paycenter's own valibot
 * schema, the amount parsed, the order's first snapshot from the payment machine's XState
 * transition, its rows written and committed durably, paycenter's own view of it answered — and
 * nothing paycenter does besides: no merchant lookup, replay check, admission, body limit, rate
 * limit, risk, metrics, logs or request ids, and nothing for a request that is malformed or
 * conflicts with an order (the bench sends neither: a write that fails stops this process).
 *
 * POST /v1/payments writes; POST /v1/payments/unwritten answers the same without writing; GET
 * /healthz is the bare route. One merchant, from FLOOR_MERCHANT_ID and FLOOR_MERCHANT_SECRET; the
 * writer's database at FLOOR_DATABASE.
 */
import { Hono } from 'hono';
import * as v from 'valibot';
import { commit_queue_writes_max, commitsInFlightFor } from '../../actors/durable-commit.ts';
import { GroupCommitter } from '../../actors/group-commit.ts';
import { paymentMachine, paymentTransitions, statusOf } from '../../machines/payment.machine.ts';
import type { PaymentInput } from '../../machines/payment.model.ts';
import { nonce_ttl_ms } from '../../src/http/nonces.ts';
import { createPayment } from '../../src/http/schemas.ts';
import { parseAuthorization, requestSignature, withinWindow } from '../../src/http/signature.ts';
import { newId } from '../../src/ids.ts';
import { parseAmount } from '../../src/money.ts';
import { paymentView } from '../../src/payments/view.ts';
import { constantTimeEqual } from '../../src/secrets.ts';
import type { FloorBatch, FloorRow } from './writer.ts';

// Set by bench/floor.ts; a floor started without them refuses to start rather than guess.
const { FLOOR_MERCHANT_ID: merchantId, FLOOR_MERCHANT_SECRET: secret, PORT: port } = v.parse(
  v.object({
    FLOOR_DATABASE: v.pipe(v.string(), v.minLength(1)), FLOOR_MERCHANT_ID: v.string(), FLOOR_MERCHANT_SECRET: v.string(),
    PORT: v.pipe(v.string(), v.regex(/^\d+$/)),
  }),
  process.env,
);

/**
 * paycenter's own group commit, at its default limits (src/config.ts: COMMIT_BATCH_MAX 64,
 * COMMIT_WAIT_MAX_MS 4), in front of a writer thread that gets each batch as JSON text, as
 * paycenter's SQLite store hands its batches over.
 */
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
const commits = new GroupCommitter<FloorRow, true>((rows) => new Promise((committed) => {
  const batch = ++batches;
  committing.set(batch, () => committed(rows.map(() => true)));
  writer.postMessage({ batch, json: JSON.stringify(rows) } satisfies FloorBatch);
}), { batchMax: 64, waitMaxMs: 4, inFlightMax: commitsInFlightFor('sqlite'), queueWritesMax: commit_queue_writes_max });

const refused = (code: string) => Response.json({ error: { code } }, { status: code === 'unauthenticated' ? 401 : 400 });

async function create(request: Request, path: string, durable: boolean): Promise<Response> {
  const parts = parseAuthorization(request.headers.get('authorization') ?? undefined);
  const now = Date.now();
  if (!parts || parts.merchantId !== merchantId || !withinWindow(parts.timestamp, now)) return refused('unauthenticated');
  const body = new Uint8Array(await request.arrayBuffer());
  if (!constantTimeEqual(requestSignature(secret, 'POST', path, parts.timestamp, parts.nonce, body), parts.signature)) return refused('unauthenticated');
  const parsed = v.safeParse(createPayment, JSON.parse(new TextDecoder().decode(body)));
  if (!parsed.success) return refused('invalid_request');
  const fields = parsed.output;
  const amount = parseAmount(fields.amount, fields.currency);
  if (!amount.ok) return refused('invalid_amount');
  const input: PaymentInput = {
    id: newId('pay', now), merchantId, merchantOrderNo: fields.merchant_order_no, amount: amount.minor, currency: fields.currency,
    subject: fields.subject, expiresAt: now + fields.expire_seconds * 1000, createdAt: now,
    details: {
      body: fields.body, notifyUrl: fields.notify_url ?? 'http://127.0.0.1/notify', returnUrl: fields.return_url, metadata: fields.metadata,
      userId: fields.user_id, clientIp: fields.client_ip, deviceId: fields.device_id,
    },
  };
  const [snapshot, actions] = paymentTransitions.initial(input);
  if (durable) {
    await commits.submit({
      id: input.id, merchantId, merchantOrderNo: input.merchantOrderNo, amount: input.amount, at: now,
      snapshot: JSON.stringify(paymentMachine.getPersistedSnapshot(snapshot)), event: JSON.stringify({ type: 'payment.create' }), effects: JSON.stringify(actions),
      timerId: newId('evt', now), dueAt: input.expiresAt, nonce: parts.nonce, nonceExpiresAt: now + nonce_ttl_ms,
    });
  }
  return Response.json(paymentView(snapshot.context, statusOf(snapshot.value), `http://127.0.0.1/cashier/${input.id}?t=${parts.nonce}`), { status: 201 });
}

const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.post('/v1/payments', (c) => create(c.req.raw, '/v1/payments', true));
app.post('/v1/payments/unwritten', (c) => create(c.req.raw, '/v1/payments/unwritten', false));

Bun.serve({ port: Number(port), hostname: '127.0.0.1', fetch: app.fetch });
