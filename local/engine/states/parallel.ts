/**
 * Parallel (https://states-language.net/spec.html#parallel-state): runs each branch on its own chain of
 * history events, from ParallelStateStarted; the first failure stops the others.
 */
import type { ParallelState } from '../asl';
import { ABORTED, asStatesError, type StatesError } from '../errors';
import { Variables } from '../variables';
import type { Chain, Engine, Env, StateType } from './state';

export const parallel: StateType<ParallelState> = {
  async jsonPath({ engine, name, state, env, effective, scopeOf, withResult, finish, next }) {
    const branchInput = state.Parameters !== undefined ? engine.template(state.Parameters, scopeOf(effective)) : effective;
    const result = await runParallel(engine, name, state, branchInput, env);
    const { merged, selected } = withResult(result);
    return finish(merged, next(), selected);
  },
  async jsonata({ engine, name, state, env, rawInput, states, evaluate, finish, next }) {
    const branchInput = state.Arguments !== undefined ? await evaluate(state.Arguments, 'Arguments') : rawInput;
    const result = await runParallel(engine, name, state, branchInput, env);
    states.result = result;
    return finish(result, next());
  },
};

async function runParallel(engine: Engine, name: string, state: ParallelState, input: unknown, env: Env): Promise<unknown[]> {
  const { host } = engine;
  if (host.mock) return engine.mocked() as unknown[];
  const startedId = host.record('ParallelStateStarted', undefined, env.chain.last);
  env.chain.last = startedId;
  const giveUp = new AbortController();
  const signal = AbortSignal.any([env.signal, giveUp.signal]);
  const branches = state.Branches.map(() => ({ chain: { last: startedId } as Chain }));
  const depth = (env.depth ?? 0) + 1;
  const done = engine.resumed(name, env) ?? {};
  const runs = state.Branches.map((branch, n) => {
    if (n in done) {
      engine.onBranchSucceeded?.(name, n, done[n]);
      return Promise.resolve(done[n]);
    }
    const untrack = engine.track(branches[n].chain, depth);
    return engine
      .runScope(branch, structuredClone(input), {
        chain: branches[n].chain,
        vars: new Variables(env.vars),
        language: env.language,
        signal,
        depth,
      })
      .then(
        (result) => {
          untrack();
          if (env.top) engine.onBranchSucceeded?.(name, n, result);
          return result;
        },
        (err: unknown) => {
          untrack();
          throw err;
        },
      );
  });
  const settled = await settleFirstFailure(runs);
  // AWS stops the other branches once one fails.
  if (settled.failed) giveUp.abort(ABORTED);
  if (settled.failed) {
    const { error, index } = settled;
    if (error.fatal || env.signal.aborted) throw error;
    const failingLast = branches[index].chain.last;
    engine.abortBranches(branches.map((b) => b.chain));
    env.chain.last = host.record('ParallelStateFailed', undefined, failingLast);
    error.lastEventId = env.chain.last;
    throw error;
  }
  const last = Math.max(...branches.map((b) => b.chain.last));
  host.record('ParallelStateSucceeded', undefined, last);
  env.chain.last = last;
  return settled.values;
}

/** Resolves with every value, or with the first failure (the others keep running until aborted). */
async function settleFirstFailure(
  runs: Promise<unknown>[],
): Promise<{ failed: false; values: unknown[] } | { failed: true; error: StatesError; index: number }> {
  return new Promise((resolve) => {
    const values: unknown[] = new Array(runs.length);
    let pending = runs.length;
    let done = false;
    if (pending === 0) resolve({ failed: false, values });
    runs.forEach((run, index) =>
      run.then(
        (value) => {
          values[index] = value;
          if (--pending === 0 && !done) {
            done = true;
            resolve({ failed: false, values });
          }
        },
        (err) => {
          if (done) return;
          done = true;
          resolve({ failed: true, error: asStatesError(err), index });
        },
      ),
    );
  });
}
