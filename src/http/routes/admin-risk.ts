/**
 * Operator routes of the risk center (API.md "Risk"): rules, lists and settings. Every change
 * is written to the store, then this instance reloads and tells the others (RiskCenter.changed).
 */
import { Hono } from 'hono';
import * as v from 'valibot';
import type { Clock } from '../../clock.ts';
import { isoTime } from '../../clock.ts';
import { newId } from '../../ids.ts';
import type { Risk } from '../../risk/open.ts';
import { parseRange } from '../../net/ip.ts';
import { list_entries_max, rules_max } from '../../risk/repo.ts';
import { type ListEntry, type Rule, type Settings, createRuleBody, list_subjects, listEntryBody, ruleOf, settingsBody, updateRuleBody } from '../../risk/rules.ts';
import { listEntry, listEntryList, riskSettings, rule, ruleList } from '../answers.ts';
import { ApiError } from '../errors.ts';
import { describeIn, jsonAnswer, noContent } from '../openapi.ts';
import { jsonBody, optionalParam, queryParams } from '../validate.ts';

export const ruleView = (r: Rule) => ({
  code: r.code, kind: r.kind, action: r.action, score: r.score, status: r.status, params: r.params,
  created_at: isoTime(r.createdAt), updated_at: isoTime(r.updatedAt),
});
export const entryView = (e: ListEntry) => ({ id: e.id, subject: e.subject, value: e.value, reason: e.reason, created_at: isoTime(e.createdAt) });
export const settingsView = (s: Settings) => ({ review_at: s.reviewAt, reject_at: s.rejectAt });

const listsQuery = v.strictObject({ subject: optionalParam(v.picklist(list_subjects)) });

function parsedRule(base: Parameters<typeof ruleOf>[0]): Rule {
  const parsed = ruleOf(base);
  if (!parsed.ok) throw new ApiError('invalid_request', `${parsed.issue.field} ${parsed.issue.message}`, parsed.issue.field);
  return parsed.rule;
}

/** An `ip` entry must be an address or a CIDR range; other subjects are ids, taken as given. */
function checkEntryValue(subject: ListEntry['subject'], value: string): void {
  if (subject === 'ip' && parseRange(value) === null) throw new ApiError('invalid_request', 'value must be an IP address or a CIDR range', 'value');
}

type RiskDeps = { risk: Risk; clock: Clock };

/**
 * The operators' changes to rules and lists, made alike by the JSON routes here and the console's
 * forms (src/console/risk.tsx): written to the store, then every instance told (RiskCenter.changed).
 */
export function riskChanges(deps: RiskDeps) {
  const { repo, center } = deps.risk;
  const found = async (code: string): Promise<Rule> => {
    const rule = await repo.rule(code);
    if (!rule) throw new ApiError('not_found', `no risk rule ${code}`);
    return rule;
  };
  return {
    found,
    async changeRule(code: string, change: v.InferOutput<typeof updateRuleBody>): Promise<Rule> {
      const current = await found(code);
      const rule = parsedRule({
        ...current, action: change.action ?? current.action, score: change.score ?? current.score, status: change.status ?? current.status,
        params: change.params ?? current.params, updatedAt: deps.clock.now(),
      });
      await repo.updateRule(rule);
      await center.changed('rules');
      return rule;
    },
    async addEntry(body: v.InferOutput<typeof listEntryBody>): Promise<ListEntry> {
      checkEntryValue(body.subject, body.value);
      if ((await repo.countEntries()) >= list_entries_max) throw new ApiError('invalid_request', `at most ${list_entries_max} list entries`, 'value');
      const now = deps.clock.now();
      const entry: ListEntry = { id: newId('rsk', now), subject: body.subject, value: body.value, reason: body.reason, createdAt: now };
      await repo.insertEntry(entry);
      await center.changed({ added: entry });
      return entry;
    },
    async removeEntry(id: string): Promise<void> {
      if (!(await repo.deleteEntry(id))) throw new ApiError('not_found', `no list entry ${id}`);
      await center.changed();
    },
  };
}

/** Mounted under /admin, whose application authenticates every /admin path first (routes/admin.ts). */
export function adminRiskRoutes(deps: RiskDeps): Hono {
  const { repo, center } = deps.risk;
  const changes = riskChanges(deps);
  const app = new Hono();

  app.post('/rules', describeIn('risk', { summary: 'Create a risk rule', responses: { 201: jsonAnswer(rule, 'The rule.') }, errors: [409] }), jsonBody(createRuleBody), async (c) => {
    const body = c.req.valid('json');
    if ((await repo.countRules()) >= rules_max) throw new ApiError('invalid_request', `at most ${rules_max} rules`, 'code');
    const now = deps.clock.now();
    const rule = parsedRule({ ...body, createdAt: now, updatedAt: now });
    if (!(await repo.insertRule(rule))) throw new ApiError('order_conflict', `risk rule ${body.code} exists`, 'code');
    await center.changed('rules');
    return c.json(ruleView(rule), 201);
  });

  app.get('/rules', describeIn('risk', { summary: 'Every risk rule', responses: { 200: jsonAnswer(ruleList, 'Every rule.') } }), async (c) => c.json({ data: (await repo.rules()).map(ruleView) }));

  app.get('/rules/:code', describeIn('risk', { summary: 'A risk rule', responses: { 200: jsonAnswer(rule, 'The rule.') }, errors: [404] }), async (c) => c.json(ruleView(await changes.found(c.req.param('code')))));

  app.patch('/rules/:code', describeIn('risk', {
    summary: 'Change a risk rule (status, action, score, params)', responses: { 200: jsonAnswer(rule, 'The rule as changed.') }, errors: [404],
  }), jsonBody(updateRuleBody), async (c) =>
    c.json(ruleView(await changes.changeRule(c.req.param('code'), c.req.valid('json')))));

  app.delete('/rules/:code', describeIn('risk', { summary: 'Delete a risk rule', responses: { 204: noContent('Deleted.') }, errors: [404] }), async (c) => {
    if (!(await repo.deleteRule(c.req.param('code')))) throw new ApiError('not_found', `no risk rule ${c.req.param('code')}`);
    await center.changed('rules');
    return c.body(null, 204);
  });

  app.post('/lists', describeIn('risk', { summary: 'Add a list entry (an ip entry may be a CIDR range)', responses: { 201: jsonAnswer(listEntry, 'The entry.') } }), jsonBody(listEntryBody), async (c) =>
    c.json(entryView(await changes.addEntry(c.req.valid('json'))), 201));

  app.get('/lists', describeIn('risk', { summary: 'List entries, of one subject or all', responses: { 200: jsonAnswer(listEntryList, 'Every entry of the subject.') } }), queryParams(listsQuery), async (c) => {
    return c.json({ data: (await repo.entries(c.req.valid('query').subject ?? null)).map(entryView) });
  });

  app.delete('/lists/:id', describeIn('risk', { summary: 'Remove a list entry', responses: { 204: noContent('Removed.') }, errors: [404] }), async (c) => {
    await changes.removeEntry(c.req.param('id'));
    return c.body(null, 204);
  });

  app.get('/settings', describeIn('risk', { summary: 'The score thresholds', responses: { 200: jsonAnswer(riskSettings, 'The thresholds.') } }), async (c) => c.json(settingsView(await repo.settings())));

  app.put('/settings', describeIn('risk', { summary: 'Set the score thresholds (review_at ≤ reject_at)', responses: { 200: jsonAnswer(riskSettings, 'The thresholds as set.') } }), jsonBody(settingsBody), async (c) => {
    const body = c.req.valid('json');
    const settings = { reviewAt: body.review_at, rejectAt: body.reject_at };
    await repo.saveSettings(settings, deps.clock.now());
    await center.changed();
    return c.json(settingsView(settings));
  });

  return app;
}
