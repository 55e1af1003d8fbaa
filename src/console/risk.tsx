/** @jsxImportSource hono/jsx */
/**
 * The console's risk center: its score thresholds, every rule with a form to enable or disable
 * it, and the newest list entries with forms to add one (block a device during an incident) or
 * remove one — the changes `PATCH /admin/risk/rules/{code}`, `POST /admin/risk/lists` and
 * `DELETE /admin/risk/lists/{id}` make (riskChanges). API clients get the same figures as JSON.
 */
import type { Hono } from 'hono';
import * as v from 'valibot';
import type { Clock } from '../clock.ts';
import { entryView, riskChanges, ruleView, settingsView } from '../http/routes/admin-risk.ts';
import { riskOverview } from '../http/answers.ts';
import { describeIn, jsonOrPage } from '../http/openapi.ts';
import { formFields } from '../http/validate.ts';
import type { Risk } from '../risk/open.ts';
import { list_entry_reason_chars_max, list_subjects, listEntryBody, updateRuleBody } from '../risk/rules.ts';
import { prefersHtml } from '../viewer/routes.ts';
import { type FormToken, Layout, PostForm, Stat, Table, Time } from './pages.tsx';

/** List entries the page shows, newest first (GET /admin/risk/lists has them all). */
export const risk_entries_shown_max = 100;

/** The form's one field, as PATCH /admin/risk/rules/{code} takes it. */
const ruleStatusForm = v.object({ status: v.unwrap(updateRuleBody.entries.status) });
/** The form sends an empty reason when none is given: the entry then has none. */
const entryForm = v.object({
  ...listEntryBody.entries,
  reason: v.pipe(v.optional(v.string(), ''), v.maxLength(list_entry_reason_chars_max), v.transform((r) => (r === '' ? null : r))),
});

async function riskReport(risk: Risk) {
  const [settings, rules, entries, entriesTotal] = await Promise.all([
    risk.repo.settings(), risk.repo.rules(), risk.repo.newestEntries(risk_entries_shown_max), risk.repo.countEntries(),
  ]);
  return { settings: settingsView(settings), rules: rules.map(ruleView), lists: entries.map(entryView), lists_total: entriesTotal };
}
type RiskReport = Awaited<ReturnType<typeof riskReport>>;

export function mountRiskConsole(app: Hono, deps: { risk: Risk; clock: Clock; csrfOf: FormToken }): void {
  const changes = riskChanges(deps);

  app.get('/risk', describeIn('risk', {
    summary: 'The risk center at a glance: thresholds, every rule, the newest list entries and how many there are', responses: { 200: jsonOrPage(riskOverview, 'The overview.') },
  }), async (c) => {
    const report = await riskReport(deps.risk);
    if (!prefersHtml(c)) return c.json(report);
    return c.html(<RiskPage report={report} csrf={deps.csrfOf(c)} />);
  });

  app.post('/forms/risk/rules/:code', formFields(ruleStatusForm), async (c) => {
    await changes.changeRule(c.req.param('code'), { status: c.req.valid('form').status });
    return c.redirect('/admin/risk', 303);
  });

  app.post('/forms/risk/lists', formFields(entryForm), async (c) => {
    await changes.addEntry(c.req.valid('form'));
    return c.redirect('/admin/risk', 303);
  });

  app.post('/forms/risk/lists/:id/remove', async (c) => {
    await changes.removeEntry(c.req.param('id'));
    return c.redirect('/admin/risk', 303);
  });
}

function RiskPage(props: { report: RiskReport; csrf: string }) {
  const { report, csrf } = props;
  return (
    <Layout title="Risk" active="/admin/risk">
      <div class="stats">
        <Stat label="Review at score" value={String(report.settings.review_at)} />
        <Stat label="Reject at score" value={String(report.settings.reject_at)} />
        <Stat label="Rules enabled" value={`${report.rules.filter((r) => r.status === 'enabled').length} of ${report.rules.length}`} />
        <Stat label="List entries" value={String(report.lists_total)} />
      </div>
      <h2>Rules</h2>
      <Table head={['Code', 'Kind', 'Action', 'Score', 'Params', 'Status', '']} empty="No rules yet."
        rows={report.rules.map((r) => [
          <code>{r.code}</code>, r.kind, r.action, String(r.score), <code>{JSON.stringify(r.params)}</code>, <span class={`badge ${r.status === 'enabled' ? 'done' : ''}`}>{r.status}</span>,
          <PostForm action={`/admin/forms/risk/rules/${r.code}`} csrf={csrf}>
            <input type="hidden" name="status" value={r.status === 'enabled' ? 'disabled' : 'enabled'} />
            <button>{r.status === 'enabled' ? 'Disable' : 'Enable'}</button>
          </PostForm>,
        ])} />
      <h2>Lists</h2>
      <PostForm action="/admin/forms/risk/lists" csrf={csrf}>
        <select name="subject" aria-label="subject">{list_subjects.map((s) => <option value={s}>{s}</option>)}</select>{' '}
        <input name="value" placeholder="user, device, IP or CIDR, merchant" required maxlength={128} aria-label="value" />{' '}
        <input name="reason" placeholder="why" maxlength={list_entry_reason_chars_max} aria-label="reason" /> <button>Add to the list</button>
      </PostForm>
      <p>{report.lists_total > report.lists.length ? `The newest ${report.lists.length} of ${report.lists_total} entries.` : ''}</p>
      <Table head={['Added', 'Subject', 'Value', 'Reason', '']} empty="No list entries."
        rows={report.lists.map((e) => [
          <Time ms={Date.parse(e.created_at)} />, e.subject, <code>{e.value}</code>, e.reason ?? '',
          <PostForm action={`/admin/forms/risk/lists/${e.id}/remove`} csrf={csrf}><button>Remove</button></PostForm>,
        ])} />
    </Layout>
  );
}
