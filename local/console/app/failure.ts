/**
 * An error and its cause as a person reads them. A Lambda function that throws or crashes leaves its error as
 * JSON in the cause (`{"errorType","errorMessage","trace":[...]}`: Runtime.ExitError, Runtime.ImportModuleError,
 * or the function's own error), which the console showed raw; here it becomes the message, a short hint for the
 * errors Lambda itself raises, and the stack trace apart. Pure (no DOM): unit-tested.
 */

export interface Failure {
  /** The error name (the execution's or the state's). */
  error: string;
  /** The cause's message, when it has one. */
  message: string | null;
  /** What a Lambda or Step Functions error name means, for the ones people meet when a function crashes. */
  hint: string | null;
  /** The function's stack trace, one line each (empty when there is none). */
  trace: string[];
  /** The rest of a JSON cause, pretty-printed; or a cause that is not JSON and not a message. */
  details: string | null;
}

/**
 * Lambda.Unknown: "Unhandled errors in Lambda are reported as Lambda.Unknown ... These include out-of-memory
 * errors and function timeouts" (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
 * Runtime.*: raised by the Lambda runtime, not by the function's code (the errorMessage says which).
 */
const HINTS: Array<[RegExp, string]> = [
  [/^Lambda\.Unknown$/, 'The function failed without an error of its own: it ran out of memory, timed out, or its process ended.'],
  [/^Runtime\.ExitError$/, "The function's process exited before it returned a result: it crashed or was killed (out of memory, for one)."],
  [/^Runtime\.ImportModuleError$/, "The function's code could not be loaded: a module it imports is missing from its bundle."],
  [/^Runtime\.HandlerNotFound$/, 'The handler the function is configured with is not exported by its code.'],
  [/^Runtime\./, "The Lambda runtime could not run the function's code."],
  [/^Sandbox\.Timedout$|^States\.Timeout$/, 'The task ran past its timeout.'],
  [/^States\.HeartbeatTimeout$/, 'The task stopped sending heartbeats: the worker holding it is gone.'],
];

export function describeFailure(error: string | null | undefined, cause: string | null | undefined): Failure {
  const name = error || 'Error';
  const out: Failure = { error: name, message: null, hint: null, trace: [], details: null };
  let parsed: unknown;
  try {
    parsed = cause ? JSON.parse(cause) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const { errorType, errorMessage, trace, stackTrace, message, ...rest } = parsed as Record<string, unknown>;
    const lines = trace ?? stackTrace;
    if (typeof errorMessage === 'string' || typeof errorType === 'string') {
      const type = typeof errorType === 'string' && errorType !== name ? `${errorType}: ` : '';
      out.message = `${type}${typeof errorMessage === 'string' ? errorMessage : ''}`.replace(/: $/, '') || null;
      out.trace = Array.isArray(lines) ? lines.map(String) : typeof lines === 'string' ? lines.split('\n') : [];
      if (message !== undefined) rest.message = message;
    } else if (typeof message === 'string') {
      out.message = message;
      if (lines !== undefined) rest.trace = lines;
    } else {
      Object.assign(rest, { trace, stackTrace, message });
      for (const k of Object.keys(rest)) if (rest[k] === undefined) delete rest[k];
    }
    if (Object.keys(rest).length) out.details = JSON.stringify(rest, null, 2);
  } else if (parsed !== undefined && typeof parsed !== 'string') {
    out.details = JSON.stringify(parsed, null, 2);
  } else if (cause) {
    out.message = typeof parsed === 'string' ? parsed : cause;
  }
  const type = parsed && typeof parsed === 'object' ? (parsed as { errorType?: unknown }).errorType : undefined;
  out.hint = HINTS.find(([re]) => re.test(name) || (typeof type === 'string' && re.test(type)))?.[1] ?? null;
  return out;
}
