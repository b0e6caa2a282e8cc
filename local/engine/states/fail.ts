/** Fail (https://states-language.net/spec.html#fail-state): fails the scope with its Error and Cause. */
import type { FailState } from '../asl';
import { StatesError } from '../errors';
import { isExpression } from '../jsonata';
import type { StateType } from './state';

export const fail: StateType<FailState> = {
  async jsonPath({ engine, state, rawInput, scopeOf }) {
    const scope = scopeOf(rawInput);
    const error = state.ErrorPath !== undefined ? engine.dynamicValue(state.ErrorPath, 'ErrorPath', scope) : state.Error;
    const cause = state.CausePath !== undefined ? engine.dynamicValue(state.CausePath, 'CausePath', scope) : state.Cause;
    throw failState(error, cause);
  },
  async jsonata({ state, evaluate }) {
    const error = isExpression(state.Error) ? await evaluate(state.Error, 'Error') : state.Error;
    const cause = isExpression(state.Cause) ? await evaluate(state.Cause, 'Cause') : state.Cause;
    throw failState(error, cause);
  },
};

function failState(error: unknown, cause: unknown): StatesError {
  const err = new StatesError(error === undefined ? '' : String(error), cause === undefined ? undefined : String(cause), { fatal: false, terminal: false });
  (err as { fromFail?: boolean }).fromFail = true;
  return err;
}
