/**
 * The shape of a provider plug-in: one value per provider (`src/channels/<provider>/index.ts`)
 * that is everything paycenter knows about it — its name, pay methods, currencies, the valibot
 * schema of a channel's config (admin validation and the OpenAPI document), which config fields
 * are secrets, how its callbacks are answered, the adapter factory, and any page paycenter must
 * serve for it. The list of plug-ins (`plugins.ts`) is the only place that names providers.
 */
import type { Hono } from 'hono';
import * as v from 'valibot';
import type { Clock } from '../clock.ts';
import type { Currency } from '../money.ts';
import { Secret } from '../secrets.ts';
import type { CallbackAnswer, ChannelAdapter } from './adapter.ts';

/** A pay method a provider serves; `label` is what the cashier shows, null where the cashier does not offer it. */
/**
 * A pay method a plug-in serves. `signedHere`: its prepay calls nobody — it signs a link or form
 * here that the payer's browser takes to the provider — so it is no call of the channel's health.
 */
export type PayMethod = { name: string; label: { zh: string; en: string } | null; signedHere?: true };

/**
 * What an adapter is told about where it runs: one channel's callback URL and paycenter pages,
 * the call timeout, and whom to tell of a call sent again after a connection reset (FetchOptions).
 */
export type AdapterOptions = {
  notifyUrl: string;
  /** `{PUBLIC_URL}/channels/{provider}/{code}`: where the plug-in's own pages for this channel are served. */
  pagesUrl: string;
  timeoutMs: number;
  onConnectionReset?: () => void;
};

/** Why a config cannot be used: the field inside `config` and what is wrong with it. */
export type ConfigProblem = { field: string; message: string };

/** A channel's config as read: shown to operators (secrets stay `Secret`), and how to make its adapter (null: paycenter serves it). */
export type ConfigReading =
  | { ok: true; shown: Record<string, unknown>; build: ((options: AdapterOptions) => ChannelAdapter) | null }
  | ({ ok: false } & ConfigProblem);

/**
 * How the bundled sandbox (`bun dev`) plays a provider: the code of the channel it seeds, the
 * sandbox route that issues credentials, and the config field that points at the sandbox.
 */
export type SandboxSeed = { code: string; provision: string; urlField: string; urlPath: string };

/** What a plug-in's pages need: a channel's adapter by code, and the clock. */
export type PageDeps = { adapters: (code: string) => Promise<{ provider: string; adapter: ChannelAdapter } | null>; clock: Clock };

/** A callback answered in plain text: HTTP 200 with the provider's word for taken, 400 with its word for refused. */
export const plainTextAnswer = (taken: string, refused: string) => (accepted: boolean): CallbackAnswer =>
  ({ status: accepted ? 200 : 400, contentType: 'text/plain; charset=utf-8', body: accepted ? taken : refused });

export type ChannelPlugin = {
  readonly provider: string;
  readonly methods: readonly PayMethod[];
  readonly currencies: readonly Currency[];
  /** The config's schema as operators send it (strings); its output holds secrets as `Secret`. */
  readonly configSchema: v.GenericSchema;
  readonly secretFields: readonly string[];
  /** Paid through an adapter (an outside provider); false for what paycenter serves itself. */
  readonly external: boolean;
  /** Validates a config (given by an operator, or stored) and prepares its adapter. */
  readConfig(raw: unknown): ConfigReading;
  /** The provider's own way to say "taken" or "refused" to its callback (refusals also when no channel matched). */
  answerCallback(accepted: boolean, reason?: string): CallbackAnswer;
  /** Pages paycenter serves for this provider under `/channels/{provider}`, if any. */
  readonly pages: ((deps: PageDeps) => Hono) | null;
  readonly sandbox: SandboxSeed | null;
  /** Its adapter downloads and reads daily statements: the daily reconciliation runs its channels. */
  readonly statements: boolean;
};

/** The names of the fields of T that are secrets. */
type SecretKeys<T> = { [K in keyof T]-?: NonNullable<T[K]> extends Secret ? K : never }[keyof T] & string;

type Spec<S extends v.GenericSchema<Record<string, unknown>, Record<string, unknown>>> = {
  provider: string;
  methods: readonly PayMethod[];
  currencies: readonly Currency[];
  config: S;
  /** Every secret field, listed (the compiler checks each is one; readConfig checks none is missing). */
  secrets: readonly SecretKeys<v.InferOutput<S>>[];
  /**
   * Builds the adapter from the config as it was given (the adapter parses it itself, so that its
   * keys are Secret from there on); null for a provider paycenter serves itself.
   */
  adapter: ((config: v.InferInput<S>, options: AdapterOptions) => ChannelAdapter) | null;
  /** What the schema cannot check (a key file that must open with its password); the adapter may rely on it. */
  check?: (config: v.InferOutput<S>) => ConfigProblem | null;
  answerCallback: (accepted: boolean, reason?: string) => CallbackAnswer;
  pages?: (deps: PageDeps) => Hono;
  sandbox?: SandboxSeed;
  /** Default: whether it has an adapter. */
  statements?: boolean;
};

/** The dot path of a valibot issue inside `config`. */
const fieldOf = (issue: v.BaseIssue<unknown>) => `config.${v.getDotPath(issue) ?? ''}`.replace(/\.$/, '');

export function definePlugin<S extends v.GenericSchema<Record<string, unknown>, Record<string, unknown>>>(spec: Spec<S>): ChannelPlugin {
  return {
    provider: spec.provider,
    methods: spec.methods,
    currencies: spec.currencies,
    configSchema: spec.config,
    secretFields: spec.secrets,
    external: spec.adapter !== null,
    answerCallback: spec.answerCallback,
    pages: spec.pages ?? null,
    sandbox: spec.sandbox ?? null,
    statements: spec.statements ?? spec.adapter !== null,
    readConfig(raw) {
      const parsed = v.safeParse(spec.config, raw);
      if (!parsed.success || !v.is(spec.config, raw)) {
        const issue = parsed.issues?.[0];
        return { ok: false, field: issue ? fieldOf(issue) : 'config', message: issue ? (issue.input === undefined ? 'is required' : issue.message) : 'is invalid' };
      }
      const unlisted = Object.entries(parsed.output).find(([key, value]) => value instanceof Secret && !spec.secrets.some((name) => name === key));
      if (unlisted) throw new Error(`assertion failed: ${spec.provider} config field ${unlisted[0]} is a secret but not listed as one`);
      const problem = spec.check?.(parsed.output);
      if (problem) return { ok: false, ...problem };
      const adapter = spec.adapter;
      return { ok: true, shown: parsed.output, build: adapter && ((options) => adapter(raw, options)) };
    },
  };
}
