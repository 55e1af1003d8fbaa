/**
 * The pages paycenter serves for UnionPay channels (under `/channels/unionpay/{code}`):
 * - `GET front?…` — a unionpay_web pay link: an auto-submitting form that posts the signed consume
 *   to UnionPay's front gateway (the payer's browser must post it; a link cannot);
 * - `POST return` — where UnionPay sends the payer back (frontUrl): a page that says the payment
 *   was handed over; the order learns the outcome from the back notify or its query;
 * - `POST refund-notify` — a refund's backUrl: checked and acknowledged with `ok`.
 */
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { html, raw } from 'hono/html';
import { readAtMost } from '../../bounded-body.ts';
import type { PageDeps } from '../plugin.ts';
import { UnionpayAdapter } from './adapter.ts';

const page = (title: string, body: ReturnType<typeof html>) => html`<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">
<title>${title}</title></head><body style="font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem">${body}</body></html>`;

/** A refund notify is a few KB; anyone can post here, so more than the callback route's bound is refused unread. */
const refund_notify_bytes_max = 256 * 1024;

/** The page's one script: it submits the form at once. */
const auto_submit = "document.getElementById('unionpay').submit()";

/**
 * The front page's own policy (paycenter's default allows forms to itself only): its one script by
 * hash, and the form may go to this channel's gateway and nowhere else.
 */
const frontPolicy = (action: string) =>
  `default-src 'none'; script-src 'sha256-${createHash('sha256').update(auto_submit).digest('base64')}'; style-src 'unsafe-inline'; `
  + `form-action ${new URL(action).origin}; frame-ancestors 'none'; base-uri 'none'`;

function frontPage(action: string, fields: Record<string, string>) {
  return page('银联支付 / UnionPay', html`<form id="unionpay" method="post" action="${action}">
${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<p>正在前往银联支付… / Taking you to UnionPay…</p><noscript><button>继续 / Continue</button></noscript></form>
<script>${raw(auto_submit)}</script>`);
}

export function unionpayPages(deps: PageDeps): Hono {
  const app = new Hono();
  const adapterOf = async (code: string) => {
    const found = await deps.adapters(code);
    return found && found.adapter instanceof UnionpayAdapter ? found.adapter : null;
  };
  const notFound = () => new Response('not found', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } });

  app.get('/:code/front', async (c) => {
    const adapter = await adapterOf(c.req.param('code'));
    const form = await adapter?.frontForm(c.req.query());
    if (!form) return notFound();
    c.header('content-security-policy', frontPolicy(form.action));
    return c.html(frontPage(form.action, form.fields));
  });

  app.post('/:code/return', (c) =>
    c.html(page('银联支付 / UnionPay', html`<h1>支付已提交 / Payment handed over</h1><p>请返回商户查看结果 / Please return to the merchant for the result.</p>`)));

  app.post('/:code/refund-notify', async (c) => {
    const adapter = await adapterOf(c.req.param('code'));
    if (!adapter) return notFound();
    const received = await readAtMost(c.req.raw.body, refund_notify_bytes_max);
    if (received.truncated) return c.text('fail', 400);
    const problem = await adapter.refundNotifyProblem(new TextDecoder().decode(received.bytes), deps.clock.now());
    return problem ? c.text('fail', 400) : c.text('ok', 200);
  });

  return app;
}
