/**
 * Map (https://states-language.net/spec.html#map-state): an inline Map runs its ItemProcessor once per item, each
 * iteration on its own chain of history events; a distributed Map's child executions are the host's (distributed.ts).
 */
import type { MapState } from '../asl';
import { ABORTED, asStatesError, runtimeError, type StatesError } from '../errors';
import { maxConcurrencyFromPath } from '../field-checks';
import { mapFieldValues } from '../distributed';
import type { DistributedFields } from '../host';
import { evaluateTemplate, isExpression } from '../jsonata';
import { selectPath } from '../jsonpath';
import { Variables } from '../variables';
import { type Chain, type Engine, type Env, json, type Obj, type StateType } from './state';

/** Inline Map runs at most 40 iterations at a time (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html). */
const INLINE_MAP_CONCURRENCY = 40;

export const map: StateType<MapState> = {
  async jsonPath({ engine, name, state, env, context, effective, scopeOf, withResult, finish, next }) {
    // With an ItemReader, ItemsPath selects within what the reader read (distributed.ts).
    const items = state.ItemsPath !== undefined && state.ItemReader === undefined ? selectPath(state.ItemsPath, scopeOf(effective)) : effective;
    engine.host.inspect?.('afterItemsPath', items);
    const selector = state.ItemSelector ?? state.Parameters;
    const itemInput = async (item: unknown, index: number) =>
      selector === undefined ? item : engine.template(selector, engine.pathScope(effective, { ...context, Map: { Item: { Index: index, Value: item } } }, env));
    const maxConcurrency = state.MaxConcurrencyPath !== undefined ? maxConcurrencyFromPath(state.MaxConcurrencyPath, scopeOf(effective)) : state.MaxConcurrency;
    const fields: DistributedFields = {};
    if (isDistributed(state)) {
      const scope = scopeOf(effective);
      if (state.ItemReader?.Parameters !== undefined) fields.readerParameters = engine.template(state.ItemReader.Parameters, scope) as Obj;
      if (state.ResultWriter?.Parameters !== undefined) fields.writerParameters = engine.template(state.ResultWriter.Parameters, scope) as Obj;
      if (state.ItemBatcher?.BatchInput !== undefined) fields.batchInput = engine.template(state.ItemBatcher.BatchInput, scope);
      Object.assign(
        fields,
        await mapFieldValues(state, { path: (path, value = effective) => selectPath(path, scopeOf(value)), expression: async (value) => value }),
      );
    }
    const result = await runMap(engine, name, state, effective, state.ItemReader !== undefined ? undefined : items, itemInput, maxConcurrency, env, fields);
    const { merged, selected } = withResult(result);
    return finish(merged, next(), selected);
  },
  async jsonata({ engine, name, state, env, rawInput, states, evaluate, finish, next }) {
    let items: unknown = rawInput;
    if (state.Items !== undefined) items = await evaluate(state.Items, 'Items');
    const itemInput = async (item: unknown, index: number) => {
      if (state.ItemSelector === undefined) return item;
      const itemStates = { ...states, context: { ...states.context, Map: { Item: { Index: index, Value: item } } } };
      try {
        return await evaluateTemplate(state.ItemSelector, 'ItemSelector', { states: itemStates, variables: env.vars.all() });
      } catch (err) {
        throw engine.evaluationFailed(err, name, 'ItemSelector', env);
      }
    };
    const maxConcurrency = isExpression(state.MaxConcurrency) ? await evaluate(state.MaxConcurrency, 'MaxConcurrency') : state.MaxConcurrency;
    const fields: DistributedFields = {};
    if (isDistributed(state)) {
      if (state.ItemReader?.Arguments !== undefined) fields.readerParameters = (await evaluate(state.ItemReader.Arguments, 'ItemReader/Arguments')) as Obj;
      if (state.ResultWriter?.Arguments !== undefined)
        fields.writerParameters = (await evaluate(state.ResultWriter.Arguments, 'ResultWriter/Arguments')) as Obj;
      if (state.ItemBatcher?.BatchInput !== undefined) fields.batchInput = await evaluate(state.ItemBatcher.BatchInput, 'ItemBatcher/BatchInput');
      Object.assign(fields, await mapFieldValues(state, { path: () => undefined, expression: (value, field) => evaluate(value, field) }));
    }
    const result = await runMap(
      engine,
      name,
      state,
      rawInput,
      state.ItemReader !== undefined && state.Items === undefined ? undefined : items,
      itemInput,
      maxConcurrency,
      env,
      fields,
    );
    states.result = result;
    return finish(result, next());
  },
};

async function runMap(
  engine: Engine,
  name: string,
  state: MapState,
  input: unknown,
  items: unknown,
  itemInput: (item: unknown, index: number) => Promise<unknown>,
  maxConcurrency: unknown,
  env: Env,
  fields: DistributedFields = {},
): Promise<unknown> {
  const { host } = engine;
  if (host.mock) return engine.mocked();
  if (!Array.isArray(items) && !(isDistributed(state) && items === undefined))
    throw runtimeError(`Items of the Map state must be an array, got ${json(items)}`);
  if (maxConcurrency !== undefined && (typeof maxConcurrency !== 'number' || !Number.isInteger(maxConcurrency) || maxConcurrency < 0)) {
    throw runtimeError(`The MaxConcurrency of the Map state must be a non-negative integer, got ${json(maxConcurrency)}`);
  }
  // preprocess.ts refuses a Map without either.
  const processor = (state.ItemProcessor ?? state.Iterator)!;
  const startedId = host.record('MapStateStarted', { length: Array.isArray(items) ? items.length : 0 }, env.chain.last);
  env.chain.last = startedId;

  if (processor.ProcessorConfig?.Mode === 'DISTRIBUTED') {
    if (!host.distributedMap) throw runtimeError('Distributed Map is not available here');
    const chain = env.chain;
    const port = {
      arn: host.executionArn,
      signal: env.signal,
      emit: (type: string, details?: Record<string, unknown>) => {
        if (env.signal.aborted) return;
        chain.last = host.record(type, details, chain.last);
      },
      note: (type: string, details?: Record<string, unknown>) => {
        if (!env.signal.aborted) noted = host.record(type, details, chain.last);
      },
    };
    let noted = chain.last;
    try {
      const result = await host.distributedMap({
        stateName: name,
        state,
        input,
        items: items as unknown[] | undefined,
        itemSelector: itemInput,
        fields,
        maxConcurrency: maxConcurrency as number | undefined,
        port,
        language: env.language,
        succeeded: engine.resumed(name, env),
        onSucceeded: env.top ? (index, child) => engine.onBranchSucceeded?.(name, index, child) : undefined,
      });
      // MapRunSucceeded and MapStateSucceeded are passed by: MapStateExited follows MapRunStarted.
      host.record('MapStateSucceeded', undefined, noted);
      return result;
    } catch (thrown) {
      const err = asStatesError(thrown);
      if (err.fatal || env.signal.aborted) throw err;
      chain.last = host.record('MapStateFailed', undefined, chain.last);
      throw err;
    }
  }

  const list = items as unknown[];
  const limit = maxConcurrency ? Math.min(maxConcurrency as number, INLINE_MAP_CONCURRENCY) : INLINE_MAP_CONCURRENCY;
  const chains: Chain[] = list.map(() => ({ last: startedId }));
  const results: unknown[] = new Array(list.length);
  const started = new Set<number>();
  const finished = new Set<number>();
  const done = engine.resumed(name, env) ?? {};
  const pending: number[] = [];
  list.forEach((_, index) => {
    if (!(index in done)) return void pending.push(index);
    results[index] = done[index];
    engine.onBranchSucceeded?.(name, index, done[index]);
  });
  let failure: { error: StatesError; index: number } | undefined;
  const language = env.language;
  const giveUp = new AbortController();
  const signal = AbortSignal.any([env.signal, giveUp.signal]);
  const depth = (env.depth ?? 0) + 1;
  let nextIndex = 0;
  const worker = async () => {
    while (!failure && nextIndex < pending.length) {
      const index = pending[nextIndex++];
      const chain = chains[index];
      const iterationInput = await itemInput(list[index], index);
      if (failure) return;
      started.add(index);
      chain.last = host.record('MapIterationStarted', { name, index }, chain.last);
      const untrack = engine.track(chain, depth, { name, index });
      try {
        results[index] = await engine.runScope(processor, iterationInput, { chain, vars: new Variables(env.vars), language, signal, depth });
        untrack();
        if (env.top) engine.onBranchSucceeded?.(name, index, results[index]);
        finished.add(index);
        chain.last = host.record('MapIterationSucceeded', { name, index }, chain.last);
      } catch (thrown) {
        untrack();
        finished.add(index);
        const error = asStatesError(thrown);
        if (!failure) {
          failure = { error, index };
          // AWS stops the other iterations once one fails.
          giveUp.abort(ABORTED);
        }
        return;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, pending.length) }, worker));
  } catch (thrown) {
    // An ItemSelector failure before any iteration started.
    failure ??= { error: asStatesError(thrown), index: -1 };
  }
  if (failure) {
    giveUp.abort(ABORTED);
    const { error, index } = failure;
    if (error.fatal || env.signal.aborted) throw error;
    const failingLast = index >= 0 ? chains[index].last : env.chain.last;
    if (index >= 0) {
      host.record('MapIterationFailed', { name, index }, failingLast);
      for (const other of started) {
        if (other === index || finished.has(other)) continue;
        engine.abortBranches([chains[other]]);
        host.record('MapIterationAborted', { name, index: other }, chains[other].last);
      }
    }
    env.chain.last = host.record('MapStateFailed', undefined, failingLast);
    error.lastEventId = env.chain.last;
    throw error;
  }
  const last = pending.length ? Math.max(...pending.map((i) => chains[i].last)) : startedId;
  host.record('MapStateSucceeded', undefined, last);
  env.chain.last = last;
  return results;
}

function isDistributed(state: MapState): boolean {
  return (state.ItemProcessor ?? state.Iterator)?.ProcessorConfig?.Mode === 'DISTRIBUTED';
}
