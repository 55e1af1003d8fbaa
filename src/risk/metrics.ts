/** Risk's Prometheus series: decisions by outcome, hits by rule, how long an evaluation takes, and how often the rules are read. */
import { Counter, Histogram, type Registry } from 'prom-client';

export type RiskMetrics = {
  decided(decision: 'allow' | 'review' | 'reject', stage: 'create' | 'pay', rules: Array<{ code: string; action: string }>, seconds: number): void;
  /** The rules, lists and settings were read whole again (they changed since this instance's copy). */
  read(): void;
};

export function riskMetrics(registry: Registry): RiskMetrics {
  const decisions = new Counter({ name: 'paycenter_risk_decisions_total', help: 'Risk decisions by outcome and stage (create, pay)', labelNames: ['decision', 'stage'], registers: [registry] });
  const hits = new Counter({ name: 'paycenter_risk_rule_hits_total', help: 'Rules that hit, by rule code and action', labelNames: ['rule', 'action'], registers: [registry] });
  const latency = new Histogram({
    name: 'paycenter_risk_evaluation_seconds', help: 'Time to evaluate the enabled rules for one request (counters included)', labelNames: ['stage'],
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1], registers: [registry],
  });
  const reads = new Counter({ name: 'paycenter_risk_rule_reads_total', help: 'Times this instance read the risk rules, lists and settings whole, after they changed', registers: [registry] });
  return {
    read: () => reads.inc(),
    decided(decision, stage, rules, seconds) {
      decisions.inc({ decision, stage });
      for (const rule of rules) hits.inc({ rule: rule.code, action: rule.action });
      latency.observe({ stage }, seconds);
    },
  };
}
