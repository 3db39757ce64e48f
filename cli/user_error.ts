/**
 * An error meant for the person at the terminal: printed as one message and
 * a hint, never as a stack trace.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    /** Process exit status. */
    readonly exitCode = 1,
    /** Already explained by printed diagnostics: print nothing more. */
    readonly quiet = false,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
