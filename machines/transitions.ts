/**
 * XState's two pure transition functions, `initialTransition()` and `transition()`, computed
 * with one inert actor scope made once per machine instead of one per call.
 *
 * Why: each of xstate's calls builds a fresh scope, an actor and a system, and that actor's
 * constructor computes an initial snapshot it throws away. The payment machine's context needs
 * its input, so that throw-away snapshot builds and catches a TypeError, stack and all, every
 * time. Measured in isolation, that was about half of a transition (15 → 7 µs an event) and up
 * to half of a create's initial transition (17 → 9–16 µs); docs/benchmarks.md, "Session 10".
 *
 * What makes one scope enough: the machine's transitions run no actions (the scope's executor
 * collects them, as xstate's own functions do), the functions are synchronous, so no two calls
 * share the collecting array, and the machine starts no actors, so its system never registers
 * one. That is asserted twice: a machine with a state that invokes is refused when the scope is
 * made, and a step whose snapshot holds a child (an invoke or a spawn) fails loudly. The test
 * driver checks every step of the machine tests against xstate's own functions.
 */
import { type AnyMachineSnapshot, type AnyStateMachine, type AnyStateNode, type InputFrom, createActor } from 'xstate';

/** What a transition returned besides the snapshot, as XState hands it over, for the runtime to turn into effects and timers. */
export type TransitionAction = { type: string; params?: unknown };

export type PureTransitions<M extends AnyStateMachine> = {
  initial(input: InputFrom<M>): [AnyMachineSnapshot, TransitionAction[]];
  next(snapshot: AnyMachineSnapshot, event: Parameters<M['transition']>[1]): [AnyMachineSnapshot, TransitionAction[]];
};

export function pureTransitions<M extends AnyStateMachine>(machine: M): PureTransitions<M> {
  assertStartsNoActors(machine.root);
  // Not started: the actor only lends the scope its `self` and system, as in xstate's own functions.
  const self = createActor(machine);
  let collected: TransitionAction[] = [];
  // Built here from xstate's own parts; the type is xstate's internal scope, which it does not export a maker for.
  const scope = {
    self, system: self.system, id: '', sessionId: '', defer: () => {}, logger: () => {}, stopChild: () => {}, emit: () => {},
    actionExecutor: (action: TransitionAction) => void collected.push(action),
  } as unknown as Parameters<M['transition']>[2];
  const collecting = (run: () => AnyMachineSnapshot): [AnyMachineSnapshot, TransitionAction[]] => {
    collected = [];
    const snapshot = run();
    const children = Object.keys(snapshot.children);
    if (children.length > 0) throw new Error(`assertion failed: a transition of ${machine.id} started actors (${children.join(', ')}); its transitions cannot share one scope`);
    return [snapshot, collected];
  };
  return {
    initial: (input) => collecting(() => machine.getInitialSnapshot(scope, input)),
    next: (snapshot, event) => collecting(() => machine.transition(snapshot, event, scope)),
  };
}

function assertStartsNoActors(node: AnyStateNode): void {
  if (node.invoke.length > 0) throw new Error(`assertion failed: state ${node.id} invokes an actor; its transitions cannot share one scope`);
  for (const child of Object.values(node.states)) assertStartsNoActors(child);
}
