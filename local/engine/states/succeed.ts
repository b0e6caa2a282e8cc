/** Succeed (https://states-language.net/spec.html#succeed-state): ends the scope with its input. */
import type { SucceedState } from '../asl';
import type { StateType } from './state';

export const succeed: StateType<SucceedState> = {
  async jsonPath({ effective, finish }) {
    return finish(effective, undefined, effective);
  },
  async jsonata({ rawInput, finish }) {
    return finish(rawInput, undefined);
  },
};
