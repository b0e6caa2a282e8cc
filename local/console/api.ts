/**
 * The opsflow local API under `/_opsflow/`: the one contract between the runtime, the browser console and
 * the CLI. The server implements `OpsflowApi` (local/console/handlers.ts); `ApiClient` below implements it
 * over HTTP with `fetch`, and both the CLI (Node) and the console (browser bundle) use that client, so a
 * route, a field or an error name exists in exactly one place.
 *
 * This file imports nothing outside local/console/ (.dependency-cruiser.cjs): esbuild bundles it into the
 * browser console, and the API's shapes are declared here, not borrowed from the runtime. Where the runtime keeps
 * the same data in its own type (the outbox's OutboxEntry, the scheduler's ScheduleSummary), handlers.ts hands
 * it over as the API's type, so the compiler checks that the two agree.
 */

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
export const EXECUTION_STATUSES: readonly ExecutionStatus[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];

/** A state's status in an execution (local/console/app/status.ts derives it from the history). */
export type StateStatus = 'succeeded' | 'failed' | 'caught' | 'running' | 'aborted' | 'not-reached';

export interface StateRun {
  name: string;
  status: StateStatus;
  /** How many times the state was entered (a state in a Map runs once per item). */
  entered: number;
  /** Re-attempts after a failure that a Retry matched. */
  retries: number;
  startedAt: string | null;
  endedAt: string | null;
  input: string | null;
  output: string | null;
  error: string | null;
  cause: string | null;
  /** Over several executions (a Distributed Map's child executions): how many had the state in each status. */
  counts?: Partial<Record<StateStatus, number>>;
}

export interface Health {
  /**
   * 'deploying': the runtime listens but has not finished deploying the app (its deploy checks may still refuse
   * it); 'ready' only once everything is deployed; 'failing': the state directory cannot be written (a full disk,
   * say), so requests that change state fail. Anything but 'ready' answers 503.
   */
  status: 'deploying' | 'ready' | 'failing';
  endpoint: string;
  timeScale: number;
  /** The runtime's virtual now (ISO). */
  now: string;
  stateMachines: string[];
  /** The workflow names the API and the CLI take: the name a state machine's metadata declares, else its own name. */
  workflows: string[];
  running: number;
  /** The state directory: whether writes succeed, and the last error while they do not. */
  storage?: { ok: boolean; error?: string; since?: string; pending: number; journalBytes: number; stateDir: string };
}

/** An example input the app declares for a workflow (README "Local runtime metadata"). */
export interface WorkflowExample {
  /** As the app names it, e.g. `approval.json`. */
  name: string;
  /** The input as JSON text, as the Start form prefills it. */
  input: string;
}

/** What the runtime deployed from the app's templates. */
export interface Deployed {
  stateMachines: Array<{ name: string; arn: string }>;
  /** The workflows the app declares (`Metadata.OpsflowLocal.workflow` on a state machine), in template order. */
  workflows: Array<{ name: string; arn: string; tryLocally: string[]; examples: WorkflowExample[] }>;
  /** The EC2 tag keys the app asks the fleet views to show as columns (`Metadata.OpsflowLocal.interestingTags`). */
  interestingTags: string[];
  activities: string[];
  functions: string[];
  tables: string[];
  topics: string[];
  /** Secrets Manager secrets, by ARN (control-link finds the chat secret here). */
  secrets: string[];
  rules: string[];
  schedules: string[];
  routes: string[];
  /** Resource types present in the template that the runtime does not run, with counts. */
  notRun: Record<string, number>;
  /** Types accepted with no local effect (IAM, logs, KMS, ...), with counts. */
  noLocalEffect: Record<string, number>;
  /** The simulated organization's accounts (the hub first, then members, then outside ones) and regions; absent without one. */
  organization?: { accounts: Array<{ id: string; name: string }>; regions: string[] };
}

export interface Workflow {
  name: string;
  arn: string;
  /** The ASL `Comment`, when the definition has one. */
  description: string | null;
  /** The example inputs the app declares for this workflow; none for a state machine it declares nothing about. */
  examples: WorkflowExample[];
  /** The Amazon States Language definition as deployed. */
  definition: AslDefinition;
}

/** Just enough of ASL for the graph; everything else passes through untyped. */
export interface AslDefinition {
  Comment?: string;
  StartAt: string;
  States: Record<string, AslState>;
  [other: string]: unknown;
}

export interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: Array<{ Next: string; [k: string]: unknown }>;
  Catch?: Array<{ ErrorEquals: string[]; Next: string; [k: string]: unknown }>;
  Retry?: Array<{ ErrorEquals: string[]; [k: string]: unknown }>;
  Branches?: AslDefinition[];
  Iterator?: AslDefinition;
  ItemProcessor?: AslDefinition;
  Resource?: string;
  Comment?: string;
  [other: string]: unknown;
}

export interface StartRequest {
  /** State machine name or ARN. */
  workflow: string;
  /** The execution input as JSON text (it must parse). */
  input: string;
  name?: string;
}

export interface StartResult {
  executionArn: string;
  startDate: string;
}

export interface ExecutionSummary {
  executionArn: string;
  workflow: string;
  name: string;
  status: ExecutionStatus;
  startDate: string;
  stopDate: string | null;
  error: string | null;
}

export interface ExecutionQuery {
  /** Workflow (state machine) name. */
  workflow?: string;
  status?: ExecutionStatus;
  /** Newest first; `offset` counts from the newest. @default 0 */
  offset?: number;
  /** @default 50, at most 1000 */
  limit?: number;
}

export interface ExecutionPage {
  items: ExecutionSummary[];
  offset: number;
  limit: number;
  /** How many executions match the filter. */
  total: number;
  /** How many executions of the filtered workflow (or all) have each status, for the filter's labels. */
  counts: Record<ExecutionStatus, number>;
}

/** One event exactly as GetExecutionHistory returns it, except `timestamp` is ISO text, not epoch seconds. */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: string;
  type: string;
  [details: string]: unknown;
}

export interface ExecutionDetail extends ExecutionSummary {
  stateMachineArn: string;
  input: string;
  output: string | null;
  cause: string | null;
  definition: AslDefinition;
  /** Oldest first. */
  events: HistoryEvent[];
  /** The records of this execution in the tables that declare a record panel (README "Record panels"). */
  records: RecordView[];
  /** The execution that started this one (a `states:startExecution` task, or the Map Run of a Distributed Map). */
  parent: string | null;
  /** The executions this one started, grouped: a Distributed Map's Map Run, or a child state machine. */
  children: ChildGroup[];
}

/** How a record panel shows one value: text, an ISO date, or a status badge. */
export type FieldType = 'text' | 'time' | 'status';

export interface RecordField {
  label: string;
  value: string | null;
  type: FieldType;
}

/** One record, as its table's record panel describes it. */
export interface RecordView {
  /** The panel's name, e.g. `Approval`. */
  panel: string;
  title: string | null;
  /** The record's status, or `closed` when it says it waits but its execution no longer runs. */
  status: string;
  /** Waits for people: its status is open and its execution runs. */
  open: boolean;
  /** Why it is closed: from the record when it says, otherwise from its execution. */
  reason: string | null;
  deadline: string | null;
  facts: RecordField[];
  list: { label: string; columns: Array<{ label: string; type: FieldType }>; rows: Array<Array<string | null>> } | null;
  /** Whom an open record waits on, since when (ISO; null: not asked yet). */
  waitingOn: Array<{ who: string; since: string | null }>;
}

/** The open records of one record panel: what waits on whom. */
export interface WaitingGroup {
  panel: string;
  /** e.g. `Pending approvals`. */
  title: string;
  /** Soonest deadline first. */
  items: WaitingItem[];
}

export interface WaitingItem {
  executionArn: string;
  /** The execution's name. */
  execution: string;
  workflow: string;
  startDate: string;
  title: string | null;
  deadline: string | null;
  /** The deadline has passed by the runtime's clock (the sweep has not closed it yet). */
  overdue: boolean;
  waitingOn: Array<{ who: string; since: string | null }>;
}

export interface ChildGroup {
  /** `map-run`: a Distributed Map's child executions; `started`: executions a task started (`states:startExecution`). */
  kind: 'map-run' | 'started';
  /** The Map state's label, or the child state machine's name. */
  label: string;
  stateMachineArn: string;
  mapRunArn: string | null;
  total: number;
  counts: Record<ExecutionStatus, number>;
  /** Failed, timed-out and aborted ones first, then running, then the newest; at most 100. */
  items: ExecutionSummary[];
  /** For a Map Run: each inner state's status over all its child executions (the parent's history has none of them). */
  states: Record<string, StateRun> | null;
}

/** An email or SNS message, as the runtime's outbox keeps it; or a chat message (`service: 'chat'`, `to`: its channel). */
export interface OutboxMessage {
  id: string;
  service: 'ses' | 'sns' | 'chat';
  from?: string;
  to: string[];
  subject: string;
  text: string;
  html?: string;
  links: string[];
  sentAt: string;
  /** SNS topic ARN for notifications. */
  topicArn?: string;
}

export type ChatPlatform = 'slack' | 'mattermost' | 'teams';

export interface ChatButton {
  /** What `opsflow chat click` takes (the label works too). */
  id: string;
  label: string;
  style?: string;
  /** A link button: it opens this URL, nothing is sent to the app. */
  url?: string;
}

/** A message on the local chat server, as posted by the app (README "The local chat server"). */
export interface ChatMessage {
  id: string;
  platform: ChatPlatform;
  /** How it arrived: the platform's API, an incoming webhook, a response URL, an integration's answer, a reply. */
  via: 'api' | 'webhook' | 'response_url' | 'action_response' | 'outgoing_webhook';
  channel: string;
  author: string;
  /** The text, line by line, as the platform shows it (raw markup; render as text). */
  lines: string[];
  buttons: ChatButton[];
  /** Only this person sees it (an ephemeral message). */
  visibleTo?: string;
  postedAt: string;
  updatedAt?: string;
  edits: number;
  /** The function that posted it and the address it left from. */
  from?: { functionName: string; sourceIp: string };
  /** The payload as posted (Slack blocks, Mattermost props, the Teams card). */
  payload: Record<string, unknown>;
}

/** A Slack modal or Mattermost dialog the app opened for someone after a click, waiting for input. */
export interface ChatView {
  id: string;
  platform: 'slack' | 'mattermost';
  user: string;
  /** The message whose click opened it. */
  message: string;
  title: string;
  inputs: Array<{ label: string; multiline: boolean; optional: boolean }>;
}

export interface ChatState {
  messages: ChatMessage[];
  views: ChatView[];
  /** The simulated people who can click. */
  users: Array<{ name: string; email: string }>;
}

export interface ChatClickRequest {
  /** Button id or label. */
  button: string;
  /** Who clicks: name or email. */
  as: string;
  /** Answers for a modal or dialog the app opens in return (a Reject comment), in order. */
  values?: string[];
}

export interface ChatSubmitResult {
  view: string;
  callback: { url: string; status: number };
  /** The app refused the input, by input. */
  errors?: Record<string, string>;
}

export interface ChatClickResult {
  message: string;
  button: string;
  user: string;
  opened?: string;
  callback?: { url: string; status: number };
  reply?: string;
  view?: ChatView;
  submitted?: ChatSubmitResult;
}

export interface FleetInstance {
  instanceId: string;
  instanceType: string;
  state: string;
  tags: Array<{ Key: string; Value: string }>;
  stateTransitionReason: string;
  stateReason?: { code: string; message: string };
  launchTime: string;
  /** Where the instance is: only with a simulated organization. */
  account?: string;
  region?: string;
  [other: string]: unknown;
}

/** `GET fleet?account=&region=`: the instances of one account and/or region (with a simulated organization). */
export interface FleetFilter {
  account?: string;
  region?: string;
}

/** A schedule with its next fire time, as the scheduler lists it. */
export interface Schedule {
  name: string;
  group: string;
  expression: string;
  /** IANA zone the expression is evaluated in. */
  timezone: string;
  state: 'ENABLED' | 'DISABLED';
  targetArn: string;
  /** Next fire (ISO, UTC), or null when it will not fire again. */
  next: string | null;
  lastFiredAt: string | null;
}

export interface Faults {
  ec2ThrottleRate: number;
  capacityErrorTypes: string[];
  sesFailRate: number;
  crashLambdas: string[];
  diskFull: boolean;
}

/** Every operation of the API. The server implements it; `ApiClient` implements it over HTTP. */
export interface OpsflowApi {
  health(): Promise<Health>;
  deployed(): Promise<Deployed>;
  workflows(): Promise<Workflow[]>;
  start(request: StartRequest): Promise<StartResult>;
  executions(query?: ExecutionQuery): Promise<ExecutionPage>;
  /** By ARN, or by name when exactly one execution has it. */
  execution(ref: string): Promise<ExecutionDetail>;
  /** The open records of every record panel, with whom they wait on. */
  waiting(): Promise<WaitingGroup[]>;
  stop(ref: string, reason?: { error?: string; cause?: string }): Promise<{ stopDate: string }>;
  outbox(): Promise<OutboxMessage[]>;
  /** The local chat server: messages, open modals and dialogs, people. */
  chat(): Promise<ChatState>;
  /** Someone clicks a button of a chat message: the platform's signed callback goes to the app. */
  chatClick(message: string, request: ChatClickRequest): Promise<ChatClickResult>;
  /** Someone submits a modal or dialog the app opened for them. */
  chatSubmit(view: string, request: { as: string; values: string[] }): Promise<ChatSubmitResult>;
  /** Someone @mentions the app in Teams: the outgoing webhook's signed request goes to the app, its answer is the reply. */
  chatMention(request: { as: string; text: string }): Promise<{ callback: { url: string; status: number }; reply?: string }>;
  fleet(filter?: FleetFilter): Promise<FleetInstance[]>;
  schedules(): Promise<Schedule[]>;
  fire(schedule: string): Promise<{ fired: string }>;
  faults(): Promise<Faults>;
  setFaults(patch: Partial<Faults>): Promise<Faults>;
}

/** The error body every `/_opsflow/` failure answers with; `error` is a stable name, `message` says what to do. */
export interface ApiErrorBody {
  error: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly error: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = error;
  }
}

/** The runtime is not answering at all (nothing listens on the port). */
export class NoRuntimeError extends Error {
  constructor(readonly endpoint: string) {
    super(`no opsflow runtime at ${endpoint.replace(/^https?:\/\//, '')}: start it with \`npm start\``);
    this.name = 'NoRuntime';
  }
}

export const API_PREFIX = '/_opsflow';

/** Paths, shared by the server's router and the client. */
export const paths = {
  health: () => `${API_PREFIX}/health`,
  deployed: () => `${API_PREFIX}/deployed`,
  workflows: () => `${API_PREFIX}/workflows`,
  executions: () => `${API_PREFIX}/executions`,
  execution: (ref: string) => `${API_PREFIX}/executions/${encodeURIComponent(ref)}`,
  stop: (ref: string) => `${API_PREFIX}/executions/${encodeURIComponent(ref)}/stop`,
  waiting: () => `${API_PREFIX}/waiting`,
  outbox: () => `${API_PREFIX}/outbox`,
  /** The email's HTML as its own document, for a sandboxed iframe. */
  outboxHtml: (id: string) => `${API_PREFIX}/outbox/${encodeURIComponent(id)}/html`,
  chat: () => `${API_PREFIX}/chat`,
  chatClick: (message: string) => `${API_PREFIX}/chat/${encodeURIComponent(message)}/click`,
  chatSubmit: (view: string) => `${API_PREFIX}/chat-views/${encodeURIComponent(view)}/submit`,
  chatMention: () => `${API_PREFIX}/chat-mention`,
  fleet: () => `${API_PREFIX}/fleet`,
  schedules: () => `${API_PREFIX}/schedules`,
  fire: (name: string) => `${API_PREFIX}/schedules/${encodeURIComponent(name)}/fire`,
  faults: () => `${API_PREFIX}/faults`,
} as const;

/** `fetch` over the API. `base` is the runtime's endpoint (CLI) or '' (the console, same origin). */
export class ApiClient implements OpsflowApi {
  constructor(
    private readonly base: string,
    private readonly fetchFn: typeof fetch = (...args) => fetch(...args),
  ) {}

  health = () => this.get<Health>(paths.health());
  deployed = () => this.get<Deployed>(paths.deployed());
  workflows = () => this.get<Workflow[]>(paths.workflows());
  start = (request: StartRequest) => this.post<StartResult>(paths.executions(), request);
  executions = (query: ExecutionQuery = {}) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
    const qs = q.toString();
    return this.get<ExecutionPage>(`${paths.executions()}${qs ? `?${qs}` : ''}`);
  };
  execution = (ref: string) => this.get<ExecutionDetail>(paths.execution(ref));
  waiting = () => this.get<WaitingGroup[]>(paths.waiting());
  stop = (ref: string, reason: { error?: string; cause?: string } = {}) => this.post<{ stopDate: string }>(paths.stop(ref), reason);
  outbox = () => this.get<OutboxMessage[]>(paths.outbox());
  chat = () => this.get<ChatState>(paths.chat());
  chatClick = (message: string, request: ChatClickRequest) => this.post<ChatClickResult>(paths.chatClick(message), request);
  chatSubmit = (view: string, request: { as: string; values: string[] }) => this.post<ChatSubmitResult>(paths.chatSubmit(view), request);
  chatMention = (request: { as: string; text: string }) =>
    this.post<{ callback: { url: string; status: number }; reply?: string }>(paths.chatMention(), request);
  fleet = (filter: FleetFilter = {}) => {
    const q = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => !!e[1]));
    return this.get<FleetInstance[]>(`${paths.fleet()}${q.size ? `?${q}` : ''}`);
  };
  schedules = () => this.get<Schedule[]>(paths.schedules());
  fire = (schedule: string) => this.post<{ fired: string }>(paths.fire(schedule), {});
  faults = () => this.get<Faults>(paths.faults());
  setFaults = (patch: Partial<Faults>) => this.post<Faults>(paths.faults(), patch);

  private get<T>(path: string): Promise<T> {
    return this.call<T>(path, { method: 'GET' });
  }

  private post<T>(path: string, body: unknown): Promise<T> {
    // Writes carry a JSON content type: the runtime refuses the form and text types a foreign page could send.
    return this.call<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  private async call<T>(path: string, init: RequestInit): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchFn(`${this.base}${path}`, init);
    } catch (err) {
      if (isConnectionRefused(err)) throw new NoRuntimeError(this.base);
      throw err;
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiError('InvalidResponse', `${init.method} ${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`, res.status);
    }
    if (!res.ok) {
      const e = (body ?? {}) as Partial<ApiErrorBody> & { __type?: string };
      throw new ApiError(e.error ?? e.__type ?? `HTTP${res.status}`, e.message ?? `${init.method} ${path} answered ${res.status}`, res.status);
    }
    return body as T;
  }
}

function isConnectionRefused(err: unknown): boolean {
  // Node's fetch (undici) wraps the socket error as `cause`; a browser says only "Failed to fetch".
  const cause = (err as { cause?: { code?: string; errors?: Array<{ code?: string }> } })?.cause;
  return cause?.code === 'ECONNREFUSED' || Boolean(cause?.errors?.some((e) => e.code === 'ECONNREFUSED'));
}
