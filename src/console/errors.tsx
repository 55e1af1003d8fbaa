/** @jsxImportSource hono/jsx */
/**
 * Errors for a browser on the console's paths: the API's error, its code and message, inside the
 * console's layout with a way back, and the sign-in page for a browser whose session ended (or
 * never was), which comes back to the page after signing in. JSON clients keep API.md's error body; the status is the same for both.
 */
import type { Context } from 'hono';
import type { ApiError } from '../http/errors.ts';
import { prefersHtml } from '../viewer/routes.ts';
import { Layout } from './pages.tsx';

const console_prefix = '/admin';

/** A URL's path and query when its path is the console's (as parsed: `..` and `%2e%2e` resolved), else null. */
const consolePathOf = (url: URL): string | null =>
  url.pathname === console_prefix || url.pathname.startsWith(`${console_prefix}/`) ? url.pathname + url.search : null;

/**
 * The console page the browser came from (path and query), or `fallback`. Only a path of ours is
 * ever sent back, whatever the Referer's host: answering with it can never lead to another site.
 */
export function consoleReferrer(c: Context, fallback: string): string {
  const referer = c.req.header('referer');
  if (referer === undefined || !URL.canParse(referer)) return fallback;
  return consolePathOf(new URL(referer)) ?? fallback;
}

/** Longer than any console link (a search's filters and page): the rest is not read. */
const next_chars_max = 2000;
/** A host no request names: a `next` that resolves against it to another origin named one of its own. */
const own_origin = 'http://paycenter.invalid';

/**
 * Where a sign-in goes on to: `next`, when it is a path of the console, else the home page. Never
 * an absolute URL, `//host` or `/\host` (browsers read both as another host): a sign-in form that
 * sends an operator anywhere a link chose is an open redirect, the phishing page's best friend.
 */
export function signInNext(next: unknown): string {
  if (typeof next !== 'string' || next.length > next_chars_max || !next.startsWith('/') || !URL.canParse(next, own_origin)) return console_prefix;
  const url = new URL(next, own_origin);
  return url.origin === own_origin ? consolePathOf(url) ?? console_prefix : console_prefix;
}

/** The sign-in page, told where to come back to: the page asked for, or for a form the page it was on. */
function signInLocation(c: Context): string {
  const back = c.req.method === 'GET' ? consolePathOf(new URL(c.req.url)) ?? console_prefix : consoleReferrer(c, console_prefix);
  return back === console_prefix ? '/admin/login' : `/admin/login?next=${encodeURIComponent(back)}`;
}

const headings: Record<number, string> = { 404: 'Not found', 409: 'Not changed', 429: 'Too many tries' };
const headingOf = (status: number) => headings[status] ?? (status >= 500 ? 'paycenter could not answer' : 'Refused');

/** The browser's answer to an error on a console path; null when the request is not a browser's there (JSON's). */
export function consoleErrorAnswer(c: Context, error: ApiError, requestId: string): Response | Promise<Response> | null {
  const path = c.req.path;
  if (!(path === console_prefix || path.startsWith(`${console_prefix}/`)) || !prefersHtml(c)) return null;
  // A browser never sends a bearer token: one that did gets the refusal, not the sign-in form.
  if (error.code === 'unauthenticated' && c.req.header('authorization') === undefined) return c.redirect(signInLocation(c), 303);
  const back = consoleReferrer(c, console_prefix);
  return c.html(
    <Layout title={headingOf(error.status)} active="">
      <p class="error" role="alert">{error.message}</p>
      <p class="empty">Error <code>{error.code}</code> (HTTP {String(error.status)}), request <code>{requestId}</code>.</p>
      <p><a href={back}>← Back</a></p>
    </Layout>,
    error.status,
  );
}
