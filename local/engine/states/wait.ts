/** Wait (https://states-language.net/spec.html#wait-state): waits Seconds, or until a Timestamp, on the virtual clock. */
import type { WaitState } from '../asl';
import { isTimestamp } from '../choice';
import { runtimeError } from '../errors';
import { isExpression } from '../jsonata';
import { secondsFromPath, timestampFromPath } from '../field-checks';
import type { PathScope } from '../jsonpath';
import { type Engine, type Env, json, type StateType } from './state';

export const wait: StateType<WaitState> = {
  async jsonPath({ engine, state, env, effective, scopeOf, finish, next }) {
    await waitFor(engine, state, scopeOf(effective), env);
    return finish(effective, next(), effective);
  },
  async jsonata({ engine, state, env, context, rawInput, evaluate, finish, next }) {
    const spec: WaitFields = { ...state };
    if (isExpression(state.Seconds)) spec.Seconds = await evaluate(state.Seconds, 'Seconds');
    if (isExpression(state.Timestamp)) spec.Timestamp = await evaluate(state.Timestamp, 'Timestamp');
    await waitFor(engine, spec, engine.pathScope(rawInput, context, env), env);
    return finish(rawInput, next());
  },
};

/** A Wait's fields, JSONata's expressions evaluated (to values not yet checked). */
interface WaitFields {
  Seconds?: unknown;
  SecondsPath?: string;
  Timestamp?: unknown;
  TimestampPath?: string;
}

async function waitFor(engine: Engine, state: WaitFields, scope: PathScope, env: Env): Promise<void> {
  let delayMs: number;
  if (state.Seconds !== undefined || state.SecondsPath !== undefined) {
    const value = state.SecondsPath !== undefined ? secondsFromPath(state.SecondsPath, scope) : state.Seconds;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw runtimeError(`The Seconds parameter is not a valid non-negative integer: ${json(value)}`);
    }
    delayMs = value * 1000;
  } else {
    const value = state.TimestampPath !== undefined ? timestampFromPath(state.TimestampPath, scope) : state.Timestamp;
    if (!isTimestamp(value)) {
      throw runtimeError(`The Timestamp parameter is not a valid ISO-8601 extended offset date-time format string: ${json(value)}`);
    }
    delayMs = Date.parse(value) - engine.host.clock.nowMs();
  }
  try {
    await engine.host.clock.sleep(Math.max(0, delayMs), env.signal);
  } catch {
    throw runtimeError('The execution stopped');
  }
}
