/** The local Step Functions engine: `StepFunctionsService` is the ServiceHandler for 'states'. */
export { StepFunctionsService, RESTART_CAUSE, RESTART_ERROR } from './service';
