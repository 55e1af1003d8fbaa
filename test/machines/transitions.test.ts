/** The engine's pure transitions refuse machines whose steps would start actors in their shared scope. */
import { describe, expect, test } from 'bun:test';
import { createMachine, fromPromise, spawnChild } from 'xstate';
import { pureTransitions } from '../../machines/transitions.ts';

describe('pure transitions with one shared scope', () => {
  test('a machine with a state that invokes an actor is refused when the scope is made', () => {
    const invoking = createMachine({
      id: 'invoking', initial: 'idle',
      states: { idle: { on: { go: 'busy' } }, busy: { invoke: { src: fromPromise(async () => 1) } } },
    });
    expect(() => pureTransitions(invoking)).toThrow('invokes an actor');
  });

  test('a step that spawns an actor fails loudly; the steps before it run', () => {
    const spawning = createMachine({
      id: 'spawning', initial: 'idle',
      states: { idle: { on: { go: { target: 'busy', actions: spawnChild(fromPromise(async () => 1), { id: 'child' }) } } }, busy: {} },
    });
    const steps = pureTransitions(spawning);
    const [idle, actions] = steps.initial(undefined);
    expect(idle.value).toBe('idle');
    expect(actions).toEqual([]);
    expect(() => steps.next(idle, { type: 'go' })).toThrow('started actors (child)');
  });
});
