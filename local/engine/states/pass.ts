/** Pass (https://states-language.net/spec.html#pass-state): passes its input, or its Result or Parameters, on. */
import type { PassState } from '../asl';
import type { StateType } from './state';

export const pass: StateType<PassState> = {
  async jsonPath({ engine, state, effective, scopeOf, withResult, finish, next }) {
    let result = effective;
    if (state.Parameters !== undefined) {
      result = engine.template(state.Parameters, scopeOf(effective));
      engine.host.inspect?.('afterParameters', result);
    }
    if ('Result' in state) result = state.Result;
    const { merged } = withResult(result);
    return finish(merged, next(), result);
  },
  async jsonata({ rawInput, finish, next }) {
    return finish(rawInput, next());
  },
};
