/** Choice (https://states-language.net/spec.html#choice-state): the first rule that matches names the next state. */
import type { ChoiceState } from '../asl';
import { evaluateRule } from '../choice';
import { StatesError } from '../errors';
import { expressionText, isExpression } from '../jsonata';
import type { StateType } from './state';

export const choice: StateType<ChoiceState> = {
  async jsonPath({ state, effective, scopeOf, finish }) {
    const scope = scopeOf(effective);
    const rule = state.Choices.find((r) => evaluateRule(r, scope));
    const target = rule?.Next ?? state.Default;
    if (target === undefined) throw noChoice();
    return finish(effective, target, effective, rule ? rule.Assign : state.Assign);
  },
  async jsonata({ engine, name, state, env, rawInput, evaluate, finish }) {
    for (const [n, rule] of state.Choices.entries()) {
      const field = `Choices[${n}]/Condition`;
      const value = typeof rule.Condition === 'boolean' ? rule.Condition : await evaluate(rule.Condition, field);
      if (typeof value !== 'boolean')
        throw engine.evaluationFailed(
          new StatesError(
            'States.QueryEvaluationError',
            `The JSONata expression '${isExpression(rule.Condition) ? expressionText(rule.Condition) : rule.Condition}' specified for the field '${field}' returned a non-boolean value.`,
          ),
          name,
          field,
          env,
        );
      if (value) return finish(rawInput, rule.Next, rule.Assign, rule.Output, `Choices[${n}]/`);
    }
    if (state.Default === undefined) throw noChoice();
    return finish(rawInput, state.Default);
  },
};

/**
 * A Choice state with no matching rule and no Default: `States.NoChoiceMatched`, "A Choice state failed to match
 * the input to the conditions defined in the Choice Rule and a Default transition was not specified"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html#error-handling-error-representation;
 * https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html: "the state machine will throw an error due
 * to a failure to transition out of the state"). Not a States.Runtime error, so an enclosing Parallel or Map can
 * catch it. AWS documents no cause text; this one paraphrases the Choice page.
 */
function noChoice(): StatesError {
  return new StatesError('States.NoChoiceMatched', 'Failed to transition out of the state: no Choice Rule matched the input and the state has no Default.');
}
