/**
 * How a failed schema check reads in an error message, the same everywhere a
 * wire value is validated (signaling messages, RPC headers, blocks, txs,
 * worker-port messages): the first issue, where it is, what is wrong.
 */

/** The part of a valibot issue this reads. */
export interface SchemaIssue {
  readonly message: string;
  readonly path?: readonly { readonly key: unknown }[] | undefined;
}

function firstIssue(issues: readonly SchemaIssue[]): { path: string; message: string } {
  const first = issues[0];
  return {
    path: first?.path?.map((p) => String(p.key)).join('.') ?? '',
    message: first?.message ?? 'schema mismatch',
  };
}

/** `at a.b: message` of the first issue (only the message when it is about the whole value). */
export function issueText(issues: readonly SchemaIssue[]): string {
  const { path, message } = firstIssue(issues);
  return path ? `at ${path}: ${message}` : message;
}

/** `invalid <what> at a.b: message`, for the error thrown when a value failed its schema. */
export function invalidValueText(what: string, issues: readonly SchemaIssue[]): string {
  const { path, message } = firstIssue(issues);
  return `invalid ${what}${path ? ` at ${path}` : ''}: ${message}`;
}
