/** The local Step Functions engine: `StepFunctionsService` is the ServiceHandler for 'states'. */
export { StepFunctionsService, RESTART_CAUSE, RESTART_ERROR, type ExecutionDescription, type ExecutionStatus, type StepFunctionsDeps } from './service';
export { DefinitionRefusedError } from './preprocess';
export type { HistoryEvent } from './history';
