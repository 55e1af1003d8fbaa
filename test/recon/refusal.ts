import { StatementError } from '../../src/channels/statement.ts';

/** The message a statement's reading was refused with (a StatementError); anything else is rethrown, and no refusal fails. */
export async function refusalOf(reading: () => Promise<unknown>): Promise<string> {
  try {
    await reading();
  } catch (error) {
    if (error instanceof StatementError) return error.message;
    throw error;
  }
  throw new Error('the statement was not refused');
}
