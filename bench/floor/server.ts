/**
 * The floor (bun run bench floor): the least a signed, durable create can be on paycenter's stack,
 * as one small Hono server. A create here does only what every create must (bench/floor/core.ts:
 * the signed create read and checked), then the order's first snapshot from the payment machine's
 * XState transition, its rows written and committed durably, paycenter's own view of it answered —
 * and nothing for a request that is malformed or conflicts with an order (the bench sends neither:
 * a write that fails stops this process).
 *
 * POST /v1/payments writes; POST /v1/payments/unwritten answers the same without writing; GET
 * /healthz is the bare route. One merchant, from FLOOR_MERCHANT_ID and FLOOR_MERCHANT_SECRET; the
 * writer's database at FLOOR_DATABASE.
 */
import { Hono } from 'hono';
import { paymentMachine, paymentTransitions, statusOf } from '../../machines/payment.machine.ts';
import { effectsOf } from '../../actors/write-set.ts';
import { paymentView } from '../../src/payments/view.ts';
import { floorEnvironment, orderWrite, readCreate, serveFloor, startCommits } from './core.ts';

const env = floorEnvironment({});
// Nothing is ever delivered here: the notify_url is only what the order records.
const merchant = { id: env.FLOOR_MERCHANT_ID, secret: env.FLOOR_MERCHANT_SECRET, notifyUrl: 'http://127.0.0.1/notify' };
const commits = startCommits();

async function create(request: Request, path: string, durable: boolean): Promise<Response> {
  const created = await readCreate(request, path, merchant);
  if (created instanceof Response) return created;
  const [snapshot, actions] = paymentTransitions.initial(created.input);
  const status = statusOf(snapshot.value);
  if (durable) {
    const journal = [{ event: { type: 'payment.create' }, effects: effectsOf(actions) }];
    await commits.submit(orderWrite(created, status, paymentMachine.getPersistedSnapshot(snapshot), journal, null));
  }
  return Response.json(paymentView(snapshot.context, status, `http://127.0.0.1/cashier/${created.input.id}?t=${created.nonce}`), { status: 201 });
}

const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.post('/v1/payments', (c) => create(c.req.raw, '/v1/payments', true));
app.post('/v1/payments/unwritten', (c) => create(c.req.raw, '/v1/payments/unwritten', false));

serveFloor(app, env.PORT);
