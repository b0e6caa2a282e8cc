/**
 * The optimized integrations AWS offers (`arn:aws:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken]`),
 * read by `isOfferedIntegration` (sdk.ts), the one answer for the create-time check and the task dispatcher. The list
 * is AWS's, not the runtime's: a definition naming an integration AWS offers deploys here even when the runtime cannot
 * run it (the task then fails with States.Runtime); one naming an integration AWS does not offer is refused at create
 * time, as CreateStateMachine refuses it.
 *
 * Services and actions: https://docs.aws.amazon.com/step-functions/latest/dg/integrate-optimized.html and each
 * service's page linked there ("Supported ... APIs"), e.g. https://docs.aws.amazon.com/step-functions/latest/dg/connect-ddb.html:
 * "Only GetItem, PutItem, UpdateItem, and DeleteItem API actions are available through optimized integration."
 */

/** Service integration patterns: '' is Request Response. */
export type Pattern = '' | 'waitForTaskToken' | 'sync' | 'sync:2';

interface Service {
  actions: string[];
  /** Patterns AWS's page says the service does NOT support; unlisted patterns are allowed. */
  refused?: Pattern[];
}

const ALL_PATTERNS: Pattern[] = ['sync', 'sync:2', 'waitForTaskToken'];

const OPTIMIZED_INTEGRATIONS: Record<string, Service> = {
  // https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html (Request Response, Wait for Callback)
  lambda: { actions: ['invoke'], refused: ['sync', 'sync:2'] },
  // connect-batch.html
  batch: { actions: ['submitJob'] },
  // connect-ddb.html: "The Wait for a Callback with the Task Token integration pattern is not supported"; no .sync
  dynamodb: { actions: ['getItem', 'putItem', 'updateItem', 'deleteItem'], refused: ALL_PATTERNS },
  // connect-ecs.html
  ecs: { actions: ['runTask'] },
  // connect-sns.html, connect-sqs.html, connect-eventbridge.html, connect-api-gateway.html: no .sync
  sns: { actions: ['publish'], refused: ['sync', 'sync:2'] },
  sqs: { actions: ['sendMessage'], refused: ['sync', 'sync:2'] },
  events: { actions: ['putEvents'], refused: ['sync', 'sync:2'] },
  apigateway: { actions: ['invoke'], refused: ['sync', 'sync:2'] },
  // connect-glue.html, connect-glue-databrew.html
  glue: { actions: ['startJobRun'] },
  databrew: { actions: ['startJobRun'] },
  // connect-sagemaker.html
  sagemaker: {
    actions: [
      'createEndpoint',
      'createEndpointConfig',
      'createHyperParameterTuningJob',
      'createLabelingJob',
      'createModel',
      'createProcessingJob',
      'createTrainingJob',
      'createTransformJob',
      'updateEndpoint',
    ],
  },
  // connect-emr.html, connect-emr-eks.html, connect-emr-serverless.html
  elasticmapreduce: {
    actions: [
      'createCluster',
      'terminateCluster',
      'addStep',
      'cancelStep',
      'setClusterTerminationProtection',
      'modifyInstanceFleetByName',
      'modifyInstanceGroupByName',
    ],
  },
  'emr-containers': { actions: ['createVirtualCluster', 'deleteVirtualCluster', 'startJobRun'] },
  'emr-serverless': { actions: ['createApplication', 'startApplication', 'stopApplication', 'deleteApplication', 'startJobRun', 'cancelJobRun'] },
  // connect-codebuild.html
  codebuild: {
    actions: ['startBuild', 'stopBuild', 'batchDeleteBuilds', 'batchGetReports', 'startBuildBatch', 'stopBuildBatch', 'retryBuildBatch', 'deleteBuildBatch'],
  },
  // connect-athena.html
  athena: { actions: ['startQueryExecution', 'stopQueryExecution', 'getQueryExecution', 'getQueryResults'] },
  // connect-eks.html
  eks: { actions: ['createCluster', 'deleteCluster', 'createFargateProfile', 'deleteFargateProfile', 'createNodegroup', 'deleteNodegroup', 'runJob', 'call'] },
  // connect-stepfunctions.html
  states: { actions: ['startExecution'] },
  // connect-bedrock.html
  bedrock: { actions: ['invokeModel', 'createModelCustomizationJob'] },
  // connect-third-party-apis.html (HTTP Task): Request Response only
  http: { actions: ['invoke'], refused: ALL_PATTERNS },
  // connect-mediaconvert.html
  mediaconvert: { actions: ['createJob'] },
};

/** Does AWS offer the optimized integration `<service>:<action>` (e.g. `dynamodb:getItem`) with this pattern? */
export function offersOptimized(integration: string, pattern: Pattern): boolean {
  const [service, action] = integration.split(':');
  const offered = Object.hasOwn(OPTIMIZED_INTEGRATIONS, service) ? OPTIMIZED_INTEGRATIONS[service] : undefined;
  if (!offered?.actions.includes(action)) return false;
  return pattern === '' || !offered.refused?.includes(pattern);
}
