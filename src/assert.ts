/** An invariant the code relies on. A failure is a bug: it throws and is never caught to carry on. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
