/**
 * A channel adapter that reports every call it makes to the channel's health (API.md: an answer
 * from the provider, even a business refusal, is a success of the channel; a timeout, a refused
 * connection, a 5xx or an unreadable answer is a failure), and keeps prepays away from a channel
 * whose breaker is open — half-open lets one probe through across all instances. The registry
 * wraps every adapter it builds, so no call escapes. What never reached the provider is no call:
 * a link signed here (a page payment) and a refusal before sending (`flow_not_supported`) are not
 * counted — an open breaker would otherwise close on probes the provider never saw.
 */
import type { CallbackRequest, ChannelAdapter, ChannelResult, PrepayRequest, RefundCall, TradeQuery } from '../channels/adapter.ts';
import type { StatementFile } from '../channels/statement.ts';
import { channelFailure } from '../channels/adapter.ts';
import { signedHere } from '../channels/plugins.ts';
import type { ChannelCall, ChannelHealth } from './channel-health.ts';
import type { CallOutcome } from './window.ts';

/** Not sent, so nothing at the provider: the caller may move on to another channel at once. */
const refusedWhileOpen = (code: string) => channelFailure('unavailable', `channel ${code}: breaker open, prepay not sent`);

export function outcomeOf(result: ChannelResult<object>): CallOutcome {
  return !result.ok && (result.code === 'unavailable' || result.code === 'bad_response') ? 'failed' : 'answered';
}

export class ObservedAdapter implements ChannelAdapter {
  constructor(private readonly inner: ChannelAdapter, private readonly code: string, private readonly health: ChannelHealth) {}

  get provider() {
    return this.inner.provider;
  }

  private async observe<T extends object>(name: ChannelCall, call: () => Promise<ChannelResult<T>>, probe = false): Promise<ChannelResult<T>> {
    const started = performance.now();
    const result = await call();
    if (!result.ok && result.code === 'flow_not_supported') return result;
    const error = result.ok ? null : result.message;
    await this.health.record(this.code, { call: name, outcome: outcomeOf(result), latencyMs: performance.now() - started, probe, error });
    return result;
  }

  async prepay(request: PrepayRequest) {
    if (signedHere(request.method)) return this.signHere(request);
    const admission = await this.health.admitPrepay(this.code);
    if (admission === 'refused') return refusedWhileOpen(this.code);
    return this.observe('prepay', () => this.inner.prepay(request), admission === 'probe');
  }

  /**
   * A payment the payer's browser takes to the provider: kept from an open breaker, but never the
   * half-open probe (its outcome would say nothing of the provider) and never counted.
   */
  private async signHere(request: PrepayRequest) {
    const { breaker } = (await this.health.states([this.code])).get(this.code)!;
    return breaker.state === 'open' ? refusedWhileOpen(this.code) : this.inner.prepay(request);
  }

  query(call: TradeQuery) {
    return this.observe('query', () => this.inner.query(call));
  }

  close(flowId: string, now: number) {
    return this.observe('close', () => this.inner.close(flowId, now));
  }

  refund(call: RefundCall) {
    return this.observe('refund', () => this.inner.refund(call));
  }

  refundQuery(refundId: string, flowId: string, now: number) {
    return this.observe('refund_query', () => this.inner.refundQuery(refundId, flowId, now));
  }

  downloadStatement(date: string, now: number) {
    return this.observe('statement', () => this.inner.downloadStatement(date, now));
  }

  /** Reads a file already fetched: no call to the channel. */
  statementRows(file: StatementFile) {
    return this.inner.statementRows(file);
  }

  verifyCallback(request: CallbackRequest) {
    return this.inner.verifyCallback(request);
  }
}
