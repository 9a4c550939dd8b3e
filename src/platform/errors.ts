/**
 * The one error type Sovra raises on purpose. Identity is the `code` (a literal union owned by
 * each domain); messages are for people and may change. Each wire protocol maps codes to its own
 * wire errors in a single table, so nothing downstream inspects messages or HTTP statuses.
 */
export class SovraError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: Code,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SovraError';
    this.code = code;
    this.details = details;
  }
}

export function isSovraError(value: unknown): value is SovraError {
  return value instanceof SovraError;
}

/** Compile-time exhaustiveness guard for `switch` over closed unions. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
