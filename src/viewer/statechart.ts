/**
 * A machine's definition as a plain graph (layout.ts places it, svg.ts draws it), read off
 * XState's StateNode tree (`root`, `states`, `transitions`, `always`, `after`), so the chart
 * cannot drift from the machine the engine runs.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition, DelayedTransitionDefinition, StateValue } from 'xstate';

export type GraphState = {
  /** Dotted path from the root: `paying.active`. */
  id: string;
  parent: string | null;
  /** The state its parent (or the machine) enters first. */
  initial: boolean;
  final: boolean;
  type: AnyStateNode['type'];
};

export type GraphTransition = {
  source: string;
  /** null for an eventless (`always`) transition. */
  event: string | null;
  /** Empty for a transition that only runs actions and stays put. */
  targets: string[];
  guard: string | null;
  /** Milliseconds, or the name of a configured delay; null when not delayed. */
  delay: number | string | null;
};

export type MachineGraph = { states: GraphState[]; transitions: GraphTransition[] };

export type Highlight = { current: string[]; visited: string[] };

const idOf = (node: AnyStateNode): string => node.path.join('.');

function descendantsOf(node: AnyStateNode): AnyStateNode[] {
  const children = Object.values(node.states) as AnyStateNode[];
  return children.flatMap((child) => [child, ...descendantsOf(child)]);
}

/** `reportSettles(phase=open)`: a guard's name with its params, an inline guard as its function name. */
export function guardLabel(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name || 'inline';
  const { type, params } = guard as { type: unknown; params?: unknown };
  if (params === undefined || params === null || typeof params !== 'object') return String(type);
  const args = Object.entries(params).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${String(type)}(${args.join(',')})`;
}

function edgeOf(t: AnyTransitionDefinition, event: string | null, delay: GraphTransition['delay']): GraphTransition {
  return { source: idOf(t.source), event, targets: (t.target ?? []).map(idOf), guard: guardLabel(t.guard), delay };
}

/** A delay given as a function is computed per snapshot: the chart can only say it is dynamic. */
function delayOf(t: DelayedTransitionDefinition<any, any>): number | string {
  return typeof t.delay === 'function' ? 'dynamic' : t.delay;
}

function transitionsOf(node: AnyStateNode): GraphTransition[] {
  // XState lists delayed transitions among `transitions` too, under `xstate.after.*` events.
  const delayed = new Set<unknown>(node.after);
  const onEvents = [...node.transitions.entries()].flatMap(([event, list]) =>
    list.filter((t) => !delayed.has(t)).map((t) => edgeOf(t, event, null)));
  const afterDelays = node.after.map((t) => edgeOf(t, t.eventType, delayOf(t)));
  const eventless = (node.always ?? []).map((t) => edgeOf(t, null, null));
  return [...onEvents, ...afterDelays, ...eventless];
}

function stateOf(node: AnyStateNode): GraphState {
  const parent = node.parent!;
  const initial = parent.type === 'compound' && parent.initial.target.includes(node);
  return { id: idOf(node), parent: parent === parent.machine.root ? null : idOf(parent), initial, final: node.type === 'final', type: node.type };
}

export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const root = machine.root as AnyStateNode;
  // A transition on the root has no state to start from in the chart; no machine here has one.
  if (transitionsOf(root).length > 0) throw new Error(`assertion failed: machine ${machine.id} has root-level transitions`);
  const nodes = descendantsOf(root);
  return { states: nodes.map(stateOf), transitions: nodes.flatMap(transitionsOf) };
}

/** The ids of the states a snapshot value is in: `{ paying: 'active' }` → `paying`, `paying.active`. */
export function stateIdsOf(value: StateValue | null | undefined, prefix = ''): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') return [prefix + value];
  return Object.entries(value).flatMap(([key, child]) => [prefix + key, ...stateIdsOf(child as StateValue | undefined, `${prefix}${key}.`)]);
}
