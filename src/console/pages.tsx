/** @jsxImportSource hono/jsx */
/**
 * The operator console's pages (server-rendered Hono JSX; no external assets, no inline script:
 * the page's one script is served by the app). Every value is escaped by JSX. Pages never wider
 * than the window: wide tables scroll inside their own box.
 */
import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import { chinaDateTime } from '../channels/china-time.ts';
import { isoTime } from '../clock.ts';
import { csrf_field } from './csrf.ts';

export const console_script = '/admin/assets/console.js';
export const console_style = '/admin/assets/console.css';

/** The alerts an operator has yet to look at: where the menu and the home page send them. */
export const open_alerts_path = '/admin/alerts?open=true';

const nav: Array<[string, string]> = [
  ['/admin', 'Home'], ['/admin/payments', 'Payments'], ['/admin/merchants', 'Merchants'], ['/admin/channels', 'Channels'], ['/admin/risk', 'Risk'],
  ['/admin/reconciliations', 'Reconciliation'], [open_alerts_path, 'Alerts'], ['/admin/audit', 'Audit'], ['/admin/machines', 'State chart'],
];

export function Layout(props: { title: string; active: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <title>{props.title} · paycenter</title>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href={console_style} />
      </head>
      <body>
        <header>
          <strong>paycenter</strong>
          <nav>
            {nav.map(([href, label]) => <a href={href} class={href === props.active ? 'active' : ''}>{label}</a>)}
          </nav>
          {/* Sign-out needs no CSRF token: the worst a forged one does is sign the operator out. */}
          <form method="post" action="/admin/logout" class="signout"><button>Sign out</button></form>
        </header>
        <main>
          <h1>{props.title}</h1>
          {props.children}
        </main>
        <script src={console_script} defer />
      </body>
    </html>
  );
}

/** China Standard Time, as providers and operators read the day; the page script adds the browser's local time. */
export const chinaTime = (ms: number) => `${chinaDateTime(ms).replace('T', ' ')} CST`;

export function Time(props: { ms: number }) {
  return <time datetime={isoTime(props.ms)} title={isoTime(props.ms)}>{chinaTime(props.ms)}</time>;
}

/**
 * A table that scrolls sideways inside its own box instead of widening the page. Cells wrap, and
 * free text (Text: a message, a note) even inside a long word such as a URL, so that a row's last
 * cell, its action, stays on screen; times and badges keep to one line.
 */
export function Table(props: { head: string[]; rows: Child[][]; empty: string }) {
  if (props.rows.length === 0) return <p class="empty">{props.empty}</p>;
  return (
    <div class="scroll">
      <table>
        <thead><tr>{props.head.map((h) => <th>{h}</th>)}</tr></thead>
        <tbody>{props.rows.map((cells) => <tr>{cells.map((cell) => <td>{cell}</td>)}</tr>)}</tbody>
      </table>
    </div>
  );
}

/** Free text in a table cell: it may break anywhere rather than widen its column. */
export const Text = (props: { children: Child }) => <span class="text">{props.children}</span>;

/** The CSRF token of the request's session, for the forms of the page it is answered with. */
export type FormToken = (c: Context) => string;

/** A console write: a POST form carrying the session's CSRF token. */
export function PostForm(props: { action: string; csrf: string; children: Child }) {
  return (
    <form method="post" action={props.action} class="inline">
      <input type="hidden" name={csrf_field} value={props.csrf} />
      {props.children}
    </form>
  );
}

export function Stat(props: { label: string; value: Child; id?: string }) {
  return <div class="stat"><div class="label">{props.label}</div><div class="value" id={props.id}>{props.value}</div></div>;
}

export const console_css = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,"Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif;color:#1d2433;background:#f6f7f9}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center;padding:.6rem 1rem;background:#1d2433;color:#fff}
header nav{display:flex;flex-wrap:wrap;gap:.25rem .9rem}header a{color:#cfd6e4;text-decoration:none}header a.active,header a:hover{color:#fff;text-decoration:underline}
main{padding:1rem;max-width:1200px;margin:0 auto}h1{font-size:1.3rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
.scroll{overflow-x:auto;max-width:100%;background:#fff;border:1px solid #dde1e8;border-radius:6px}
table{border-collapse:collapse;width:100%}th,td{padding:.4rem .6rem;border-bottom:1px solid #eef0f3;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600;white-space:nowrap}td{overflow-wrap:break-word}td code{font-size:12px}td .text{overflow-wrap:anywhere}
td time,td .badge,td form.inline,td .nowrap{white-space:nowrap}
header form.signout{margin:0 0 0 auto}header button{background:none;border:1px solid #5b6475;border-radius:4px;color:#cfd6e4;padding:.1rem .5rem}
.error{background:#fde2e1;border:1px solid #f3b8b5;border-radius:6px;padding:.6rem .8rem}
.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:.6rem}.stat{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:.6rem .8rem}
.stats.below{margin-top:.8rem}.stat .label{color:#5b6475;font-size:12px}.stat .value{font-size:1.3rem;font-weight:600}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;margin-bottom:.8rem}form.filters input,form.filters select{padding:.3rem .4rem;max-width:100%}
form.inline{display:inline}button{cursor:pointer}.empty{color:#5b6475}.pager{margin:.8rem 0}
.badge{display:inline-block;padding:0 .4rem;border-radius:9px;font-size:12px;background:#e8ebf0}.badge.open,.badge.failed{background:#fde2e1}.badge.done,.badge.succeeded,.badge.repaired{background:#dcf5e3}
`;

/** A list page's link: its filters (empty ones left out), where the page starts (`after`) and its size. */
export function listLink(path: string, params: Record<string, string | number | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) query.set(name, String(value));
  }
  return `${path}?${query}`;
}

/** A share as the console shows it; none (nothing to measure) as a dash. */
export const percent = (share: number | null) => (share === null ? '–' : `${(share * 100).toFixed(1)} %`);

/**
 * The page script: local times beside China times, and the home page's figures refreshed without
 * a reload. A `data-field` is a path into the page's JSON answer; a step `key=value` picks the
 * array item whose `key` is `value` (a currency's line). `data-format="percent"` shows a share as
 * percent() does. A `data-shape` that the answer no longer matches (a new day, a new currency)
 * reloads the page: its rows are the server's to draw.
 */
export const console_js = `
for (const t of document.querySelectorAll('time[datetime]')) {
  const local = new Date(t.getAttribute('datetime')).toLocaleString();
  t.title = 'your time: ' + local;
}
const at = (root, path) => path.split('.').reduce((v, step) => {
  if (v == null) return v;
  const pick = /^([a-z_]+)=(.*)$/.exec(step);
  return pick && Array.isArray(v) ? v.find((item) => item != null && String(item[pick[1]]) === pick[2]) : v[step];
}, root);
const shown = (value, format) => format === 'percent' ? (value == null ? '–' : (value * 100).toFixed(1) + ' %') : String(value);
const live = document.querySelector('[data-refresh]');
if (live) {
  setInterval(async () => {
    const answer = await fetch(location.pathname, { headers: { accept: 'application/json' } });
    if (!answer.ok) return;
    const home = await answer.json();
    for (const el of document.querySelectorAll('[data-shape]')) {
      const [path, key] = el.getAttribute('data-shape').split(' ');
      const shape = key === undefined ? String(at(home, path)) : (at(home, path) || []).map((item) => item[key]).join(',');
      if (shape !== el.getAttribute('data-value')) return location.reload();
    }
    for (const el of document.querySelectorAll('[data-field]')) {
      const value = at(home, el.getAttribute('data-field'));
      if (value !== undefined) el.textContent = shown(value, el.getAttribute('data-format'));
    }
  }, Number(live.getAttribute('data-refresh')));
}
`;
