/** The local Step Functions engine: `StepFunctionsService` is the ServiceHandler for 'states'. */
export { RESTART_CAUSE, RESTART_ERROR } from './executions';
export { StepFunctionsService } from './service';
