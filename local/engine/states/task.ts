/**
 * Task (https://states-language.net/spec.html#task-state): the work itself (Lambda, SDK integrations, activities,
 * tokens, child executions) is the host's (dispatch.ts behind `Host.task`); this module evaluates the fields.
 */
import type { TaskState } from '../asl';
import { runtimeError } from '../errors';
import type { TaskPort } from '../host';
import { evaluateTemplate, isExpression } from '../jsonata';
import { selectPath } from '../jsonpath';
import { type Engine, type Env, json, type StateType } from './state';

export const task: StateType<TaskState> = {
  async jsonPath({ engine, name, state, env, context, effective, scopeOf, withResult, finish, next }) {
    // Only a Task's Parameters see $$.Task.Token (a placeholder the dispatcher replaces with the issued token).
    const params =
      state.Parameters !== undefined ? engine.template(state.Parameters, { input: effective, context, variables: (n) => env.vars.get(n) }) : effective;
    if (state.Parameters !== undefined) engine.host.inspect?.('afterParameters', params);
    const timeoutSeconds = state.TimeoutSecondsPath !== undefined ? selectPath(state.TimeoutSecondsPath, scopeOf(effective)) : state.TimeoutSeconds;
    const heartbeatSeconds = state.HeartbeatSecondsPath !== undefined ? selectPath(state.HeartbeatSecondsPath, scopeOf(effective)) : state.HeartbeatSeconds;
    const result = await runTask(engine, name, state, params, timeoutSeconds, heartbeatSeconds, env);
    engine.host.inspect?.('result', result);
    const { merged, selected } = withResult(result);
    return finish(merged, next(), selected);
  },
  async jsonata({ engine, name, state, env, context, rawInput, states, evaluate, finish, next }) {
    const taskScope = { states: { ...states, context }, variables: env.vars.all() };
    let args = rawInput;
    if (state.Arguments !== undefined) {
      try {
        args = await evaluateTemplate(state.Arguments, 'Arguments', taskScope);
      } catch (err) {
        throw engine.evaluationFailed(err, name, 'Arguments', env);
      }
      engine.host.inspect?.('afterArguments', args);
    }
    const timeoutSeconds = isExpression(state.TimeoutSeconds) ? await evaluate(state.TimeoutSeconds, 'TimeoutSeconds') : state.TimeoutSeconds;
    const heartbeatSeconds = isExpression(state.HeartbeatSeconds) ? await evaluate(state.HeartbeatSeconds, 'HeartbeatSeconds') : state.HeartbeatSeconds;
    const result = await runTask(engine, name, state, args, timeoutSeconds, heartbeatSeconds, env);
    engine.host.inspect?.('result', result);
    states.result = result;
    return finish(result, next());
  },
};

async function runTask(
  engine: Engine,
  name: string,
  state: TaskState,
  input: unknown,
  timeoutSeconds: unknown,
  heartbeatSeconds: unknown,
  env: Env,
): Promise<unknown> {
  if (engine.host.mock) return engine.mocked();
  const chain = env.chain;
  const port: TaskPort = {
    arn: engine.host.executionArn,
    signal: env.signal,
    emit: (type, details) => {
      if (env.signal.aborted) return;
      chain.last = engine.host.record(type, details, chain.last);
    },
  };
  const timeout = seconds(timeoutSeconds, 'TimeoutSeconds');
  const heartbeat = seconds(heartbeatSeconds, 'HeartbeatSeconds');
  // "If provided, the "HeartbeatSeconds" interval MUST be smaller than the "TimeoutSeconds" value."
  // (https://states-language.net/spec.html#task-state). Values from a path or an expression are only known here;
  // AWS documents no outcome for breaking the rule at run time, so the runtime fails the execution (States.Runtime)
  // before the task is scheduled, the stricter reading (README "Unconfirmed").
  if (timeout !== undefined && heartbeat !== undefined && heartbeat >= timeout) {
    throw runtimeError(`The HeartbeatSeconds value (${heartbeat}) must be smaller than the TimeoutSeconds value (${timeout})`);
  }
  return engine.host.task(port, { stateName: name, resource: state.Resource, input, timeoutSeconds: timeout, heartbeatSeconds: heartbeat });
}

function seconds(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw runtimeError(`The ${field} value must be a positive integer, got ${json(value)}`);
  return value;
}
