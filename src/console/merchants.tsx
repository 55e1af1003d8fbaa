/** @jsxImportSource hono/jsx */
/**
 * The console's merchants: every merchant (business line) with its settings, a page at a time in
 * id order, and a form to enable or disable one or change how its payments are routed — the
 * same change `PATCH /admin/merchants/{id}` makes.
 */
import type { Hono } from 'hono';
import * as v from 'valibot';
import { merchantPage } from '../http/answers.ts';
import { ApiError } from '../http/errors.ts';
import { describeIn, jsonOrPage } from '../http/openapi.ts';
import { formFields, optionalParam, pageLimit, queryParams } from '../http/validate.ts';
import { updateMerchant } from '../http/schemas.ts';
import { merchantOf } from '../http/views.ts';
import type { MerchantDirectory } from '../merchants/directory.ts';
import type { MerchantRow, Store } from '../store/store.ts';
import { prefersHtml } from '../viewer/routes.ts';
import { type FormToken, Layout, PostForm, Table, Time } from './pages.tsx';

/** Merchants a page lists at most. */
export const merchants_page_max = 100;

const merchantsQuery = v.strictObject({
  after: optionalParam(v.pipe(v.string(), v.maxLength(64))),
  limit: pageLimit(merchants_page_max, 50),
});

/** The form's two fields, as PATCH /admin/merchants/{id} takes them. */
const merchantForm = v.object({ status: v.unwrap(updateMerchant.entries.status), routing: v.unwrap(updateMerchant.entries.routing) });

export function mountMerchantConsole(app: Hono, deps: { store: Store; merchants: MerchantDirectory; csrfOf: FormToken }): void {
  app.get('/merchants', describeIn('operators', { summary: 'Merchants in id order (after=… pages on)', responses: { 200: jsonOrPage(merchantPage, 'A page of merchants.') } }), queryParams(merchantsQuery), async (c) => {
    const q = c.req.valid('query');
    const rows = await deps.store.listMerchants(q.after ?? null, q.limit + 1);
    const page = rows.slice(0, q.limit);
    const hasMore = rows.length > q.limit;
    if (!prefersHtml(c)) return c.json({ data: page.map(merchantOf), has_more: hasMore });
    return c.html(<MerchantsPage merchants={page} hasMore={hasMore} limit={q.limit} csrf={deps.csrfOf(c)} />);
  });

  app.post('/forms/merchants/:id', formFields(merchantForm), async (c) => {
    const form = c.req.valid('form');
    const merchant = await deps.merchants.update(c.req.param('id'), { status: form.status, routing: form.routing });
    if (!merchant) throw new ApiError('not_found', `no merchant ${c.req.param('id')}`);
    return c.redirect('/admin/merchants', 303);
  });
}

function MerchantsPage(props: { merchants: MerchantRow[]; hasMore: boolean; limit: number; csrf: string }) {
  const next = new URLSearchParams({ after: props.merchants.at(-1)?.id ?? '', limit: String(props.limit) });
  return (
    <Layout title="Merchants" active="/admin/merchants">
      <Table head={['Merchant', 'Name', 'Status and routing', 'Created', 'Notify URL', 'Methods']} empty="No merchants yet."
        rows={props.merchants.map((m) => [
          <code>{m.id}</code>, m.name,
          <PostForm action={`/admin/forms/merchants/${m.id}`} csrf={props.csrf}>
            <select name="status" aria-label="status">{merchantForm.entries.status.options.map((s) => <option value={s} selected={m.status === s}>{s}</option>)}</select>{' '}
            <select name="routing" aria-label="routing">{merchantForm.entries.routing.options.map((r) => <option value={r} selected={m.routing === r}>{r}</option>)}</select>{' '}
            <button>Save</button>
          </PostForm>,
          <Time ms={m.createdAt} />, m.notifyUrl ?? '–', m.methods.join(', '),
        ])} />
      {props.hasMore ? <p class="pager"><a href={`/admin/merchants?${next}`}>More merchants →</a></p> : ''}
    </Layout>
  );
}
