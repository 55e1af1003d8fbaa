/** @jsxImportSource hono/jsx */
/**
 * Errors for a browser on the console's paths: the API's error, its code and message, inside the
 * console's layout with a way back, and the sign-in page for a browser whose session ended (or
 * never was). JSON clients keep API.md's error body; the status is the same for both.
 */
import type { Context } from 'hono';
import type { ApiError } from '../http/errors.ts';
import { prefersHtml } from '../viewer/routes.ts';
import { Layout } from './pages.tsx';

const console_prefix = '/admin';

/**
 * The console page the browser came from (path and query), or `fallback`. Only a path of ours is
 * ever sent back, whatever the Referer's host: answering with it can never lead to another site.
 */
export function consoleReferrer(c: Context, fallback: string): string {
  const referer = c.req.header('referer');
  if (referer === undefined || !URL.canParse(referer)) return fallback;
  const from = new URL(referer);
  return from.pathname === console_prefix || from.pathname.startsWith(`${console_prefix}/`) ? from.pathname + from.search : fallback;
}

const headings: Record<number, string> = { 404: 'Not found', 409: 'Not changed', 429: 'Too many tries' };
const headingOf = (status: number) => headings[status] ?? (status >= 500 ? 'paycenter could not answer' : 'Refused');

/** The browser's answer to an error on a console path; null when the request is not a browser's there (JSON's). */
export function consoleErrorAnswer(c: Context, error: ApiError, requestId: string): Response | Promise<Response> | null {
  const path = c.req.path;
  if (!(path === console_prefix || path.startsWith(`${console_prefix}/`)) || !prefersHtml(c)) return null;
  // A browser never sends a bearer token: one that did gets the refusal, not the sign-in form.
  if (error.code === 'unauthenticated' && c.req.header('authorization') === undefined) return c.redirect('/admin/login', 303);
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
