/**
 * Import rules, checked by `npm run deps` and by test/infra/app.test.ts (so `npm test` enforces them).
 *
 * The local runtime (local/) is built in layers. A module may import from its own layer and the layers below it,
 * never from a layer above, and no import circle may form, type-only imports included: a type is a dependency too,
 * so a type an upper layer and a lower one share lives in the lower one. Bottom to top:
 *
 *   base     kernel.ts (the shared contracts: clock, request/response, AwsError, event bus, outbox, delivery
 *            targets), storage, clock-free utilities (glob, limits, sigv4, credentials, faults), the outbox, the
 *            cloud assembly reader (template, synth) and the client's view of a running runtime (client)
 *   wire/    the AWS protocols: a signed request decoded to its operation and parameters, an error encoded in the
 *            request's protocol (JSON, REST-JSON, query, EC2 query, REST-XML)
 *   checks   what AWS checks before a service acts: authentication (auth.ts), request validation against the
 *            service models (validate/), IAM (iam/), quotas, rates and deploy checks (rules/)
 *   services the emulated AWS services (services/), the network their functions' calls go through (network/), and
 *            the simulated organization: accounts, regions, STS and Organizations (org/)
 *   engine   Step Functions (engine/), which calls the services (S3 for Distributed Map, CloudTrail)
 *   front    the HTTP endpoint (server.ts) and the console: its API contract, server and browser app (console/)
 *   runtime  runtime.ts, which builds all of the above from a cloud assembly
 *   cli      cli.ts and its launcher opsflow.cjs
 *
 * The console's API contract (console/api.ts) and the browser app (console/app/) import nothing outside console/
 * but npm packages (no Node module): esbuild bundles them for the browser, and the API's shapes are declared
 * there, not borrowed from the runtime.
 *
 * Inside engine/: evaluation (interpreter.ts, asl.ts, variables.ts, host.ts, states/) imports neither the API (api.ts),
 * the execution lifecycle (executions.ts) nor storage (store.ts); storage imports neither of the other two, and the
 * lifecycle does not import the API.
 *
 * Between the folders: the runtime imports nothing of the app (it learns the app from the template); a task
 * function runs in Lambda and knows neither the runtime nor the CDK app; a workflow does not know the runtime.
 */
const LAYERS = [
  ['base', '^local/(kernel|storage|glob|limits|sigv4|credentials|faults|outbox|template|synth|client|unshadow-node)\\.[cm]?[jt]s$'],
  ['wire', '^local/wire/'],
  ['checks', '^local/(auth\\.ts$|validate/|iam/|rules/)'],
  ['services', '^local/(services|network|org)/'],
  ['engine', '^local/engine/'],
  ['front', '^local/(server\\.ts$|console/)'],
  ['runtime', '^local/runtime\\.ts$'],
  ['cli', '^local/(cli\\.ts|opsflow\\.cjs)$'],
];

const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `no-upward-from-${name}`,
  comment: `local/ layer '${name}' imports only from itself and the layers below it (.dependency-cruiser.cjs)`,
  severity: 'error',
  from: { path },
  to: { path: LAYERS.slice(i + 1).map(([, above]) => above) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import circle: the modules cannot be read, tested or loaded one without the other',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'local-layered',
      comment: 'Every module of local/ belongs to a layer (.dependency-cruiser.cjs LAYERS)',
      severity: 'error',
      from: { path: '^local/', pathNot: LAYERS.map(([, path]) => path) },
      to: {},
    },
    ...upward,
    {
      name: 'console-contract-self-contained',
      comment:
        "The console's API contract and browser app import only from console/ and npm packages (no Node module, nothing of the runtime): they are bundled for the browser and declare the API's shapes themselves",
      severity: 'error',
      from: { path: '^local/console/(api\\.ts$|app/)' },
      // (^|/): a checkout whose node_modules is a link to another's resolves packages outside it.
      to: { pathNot: ['^local/console/', '(^|/)node_modules/'] },
    },
    {
      name: 'local-not-app',
      comment: 'The runtime runs any cloud assembly: it learns the app from the template, never from its code',
      severity: 'error',
      from: { path: '^local/' },
      to: { path: '^(infra|workflows|tasks)/' },
    },
    {
      name: 'engine-evaluation-apart',
      comment:
        'Step Functions evaluation (the interpreter core, the typed ASL model and one module per state type) knows neither the API, the execution lifecycle nor storage: it runs a definition for whatever host it is given (local/engine/host.ts)',
      severity: 'error',
      from: { path: '^local/engine/((interpreter|asl|variables|host)\\.ts$|states/)' },
      to: {
        path: [
          '^local/engine/(api|service|executions|store|activities|registry|dispatch|test-state|tokens|index)\\.ts$',
          '^local/(storage\\.ts$|wire/|services/)',
        ],
      },
    },
    {
      name: 'engine-store-below-lifecycle',
      comment: "The engine's storage (store.ts) knows nothing of the API or the execution lifecycle that use it",
      severity: 'error',
      from: { path: '^local/engine/store\\.ts$' },
      to: { path: '^local/engine/(api|service|executions|activities)\\.ts$' },
    },
    {
      name: 'engine-lifecycle-below-api',
      comment: 'The execution lifecycle (executions.ts) knows nothing of the API (api.ts) that calls it',
      severity: 'error',
      from: { path: '^local/engine/executions\\.ts$' },
      to: { path: '^local/engine/(api|service)\\.ts$' },
    },
    {
      name: 'tasks-not-runtime-or-infra',
      comment: 'A task function runs in Lambda: it knows neither the local runtime nor the CDK app',
      severity: 'error',
      from: { path: '^tasks/' },
      to: { path: '^(local|infra)/' },
    },
    {
      name: 'workflows-not-runtime',
      comment: 'A workflow is CDK code for AWS: it does not know the local runtime',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { path: '^local/' },
    },
  ],
  options: {
    // Type-only imports count: a type is a dependency, and one running up a layer is still upward.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|cdk\\.out)' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
