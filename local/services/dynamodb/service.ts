/**
 * A DynamoDB subset over AWS JSON 1.0 (`DynamoDB_20120810.<Op>`): the tables the template declares, items
 * kept as raw AttributeValue maps, expressions (condition, filter, key condition, update, projection)
 * parsed and evaluated here, and the same error codes and messages AWS uses where the SDKs depend on them.
 *
 * Ops: CreateTable, DeleteTable, DescribeTable, DescribeTimeToLive, ListTables, GetItem, PutItem, DeleteItem, UpdateItem,
 * Query, Scan, BatchGetItem, BatchWriteItem. Each written item is journaled in the state store 'dynamodb' (key: table,
 * item key); tables made with CreateTable in 'dynamodb.tables' (the template's are deployed again at each start).
 *
 * Local choices: items whose TTL attribute is in the past (virtual clock) are removed as soon as the table is
 * next touched (AWS takes up to a few days); Query and Scan order partitions by key value (AWS by hash);
 * reserved words are not rejected; capacity, streams and transactions are not emulated.
 */
import { AwsError, arn, type AwsRequest, type AwsResponse, type Clock, type ServiceHandler, type StateDir, type Store } from '../../kernel';
import { applyUpdate, clone, evalCond, project } from './evaluate';
import { ExpressionContext, Parser, parseCondition, parseProjection, type Cond, type Operand } from './expressions';
import { dynamoItemSize } from '../../rules/quotas';
import { checkItem, compareScalars, invalid, typeOf, type Item } from './values';
import { jsonRequest } from '../../wire/decode';

export type { Item } from './values';

export interface KeySchemaElement {
  AttributeName: string;
  KeyType: 'HASH' | 'RANGE';
}

export interface Projection {
  /** @default 'ALL' */
  ProjectionType?: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  NonKeyAttributes?: string[];
}

export interface TableDefinition {
  name: string;
  keySchema: KeySchemaElement[];
  attributeDefinitions: { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }[];
  globalSecondaryIndexes?: { IndexName: string; KeySchema: KeySchemaElement[]; Projection: Projection }[];
  timeToLiveAttribute?: string;
  /** @default 'PAY_PER_REQUEST' */
  billingMode?: 'PAY_PER_REQUEST' | 'PROVISIONED';
  readCapacity?: number;
  writeCapacity?: number;
}

interface Table {
  def: TableDefinition;
  items: Map<string, Item>;
  createdAt: number;
  /** Virtual ms at which a table made with CreateTable leaves CREATING; the template's are ACTIVE from the start. */
  activeAt: number;
  /** Set by DeleteTable: the table is DELETING until then, and gone after. */
  goneAt?: number;
}

/** A table made with CreateTable, as journaled. */
interface CreatedTable {
  def: TableDefinition;
  createdAt: number;
  activeAt: number;
  goneAt?: number;
}

/**
 * "CreateTable is an asynchronous operation. Upon receiving a CreateTable request, DynamoDB immediately returns a
 * response with a TableStatus of CREATING. After the table is created, DynamoDB sets the TableStatus to ACTIVE. You
 * can perform read and write operations only on an ACTIVE table."
 * (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html); "the specified table is in
 * the DELETING state until DynamoDB completes the deletion" (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteTable.html).
 * AWS gives no duration: both last this long on the virtual clock (README "Unconfirmed").
 */
export const TABLE_TRANSITION_MS = 2_000;

interface KeyView {
  hash: string;
  range?: string;
}

function keyView(schema: KeySchemaElement[]): KeyView {
  return { hash: schema.find((k) => k.KeyType === 'HASH')!.AttributeName, range: schema.find((k) => k.KeyType === 'RANGE')?.AttributeName };
}

const TARGET_PREFIX = 'DynamoDB_20120810.';

export class DynamoDbService implements ServiceHandler {
  readonly services = ['dynamodb'] as const;
  private readonly clock?: Clock;
  private readonly tables = new Map<string, Table>();
  /** Items of every table, keyed `<table>\n<item key>`. */
  private readonly stored: Store<Item>;
  /** Tables made with CreateTable, by name. */
  private readonly created: Store<CreatedTable>;

  /** Query and Scan stop reading once a page holds this many bytes of items; undefined with OPSFLOW_QUOTAS=off. */
  private readonly pageBytes?: number;
  /** The largest item a write may leave; undefined with OPSFLOW_QUOTAS=off. */
  private readonly itemBytes?: number;

  /**
   * `clock` (optional) drives TTL expiry and DescribeTable's creation time. `pageBytes` is AWS's 1 MB page
   * (DYNAMODB_PAGE_BYTES, local/rules/quotas.ts) and `itemBytes` its 400 KB item (DYNAMODB_ITEM_BYTES); the runtime
   * passes them unless quotas are relaxed.
   */
  constructor(opts: { state: StateDir; clock?: Clock; pageBytes?: number; itemBytes?: number }) {
    this.clock = opts.clock;
    this.stored = opts.state.store<Item>('dynamodb');
    this.created = opts.state.store<CreatedTable>('dynamodb.tables');
    this.pageBytes = opts.pageBytes;
    this.itemBytes = opts.itemBytes;
    for (const t of this.created.values()) {
      this.addTable(t.def);
      Object.assign(this.tables.get(t.def.name)!, { createdAt: t.createdAt, activeAt: t.activeAt, goneAt: t.goneAt });
    }
  }

  addTable(def: TableDefinition): void {
    const defined = new Map(def.attributeDefinitions.map((a) => [a.AttributeName, a.AttributeType]));
    for (const schema of [def.keySchema, ...(def.globalSecondaryIndexes ?? []).map((g) => g.KeySchema)]) {
      if (!schema.some((k) => k.KeyType === 'HASH')) throw new Error(`table ${def.name}: every key schema needs a HASH key`);
      for (const k of schema)
        if (!defined.has(k.AttributeName)) throw new Error(`table ${def.name}: key attribute ${k.AttributeName} is missing from attributeDefinitions`);
    }
    const now = this.now();
    const table: Table = { def, items: new Map(), createdAt: now, activeAt: now };
    const prefix = `${def.name}\n`;
    for (const [k, item] of this.stored.entries()) if (k.startsWith(prefix)) table.items.set(k.slice(prefix.length), item);
    this.tables.set(def.name, table);
  }

  async handle(req: AwsRequest): Promise<AwsResponse> {
    try {
      const { op, input } = jsonRequest(req, TARGET_PREFIX);
      return ok(this.dispatch(op, input));
    } catch (err) {
      return errorResponse(err);
    }
  }

  private dispatch(op: string, input: Record<string, unknown>): unknown {
    for (const legacy of ['Expected', 'AttributeUpdates', 'KeyConditions', 'QueryFilter', 'ScanFilter', 'AttributesToGet']) {
      if (input[legacy] !== undefined) throw invalid(`The legacy parameter ${legacy} is not supported by the opsflow local runtime; use expressions`);
    }
    switch (op) {
      case 'ListTables':
        return this.listTables(input as { ExclusiveStartTableName?: string; Limit?: number });
      case 'CreateTable':
        return { TableDescription: this.describe(this.createTable(input as unknown as CreateTableInput)) };
      case 'DeleteTable':
        return { TableDescription: this.describe(this.deleteTable(input.TableName)) };
      case 'DescribeTable':
        return { Table: this.describe(this.table(input.TableName, true)) };
      case 'DescribeTimeToLive': {
        const attr = this.table(input.TableName).def.timeToLiveAttribute;
        return { TimeToLiveDescription: attr ? { TimeToLiveStatus: 'ENABLED', AttributeName: attr } : { TimeToLiveStatus: 'DISABLED' } };
      }
      case 'GetItem':
        return this.getItem(input as unknown as GetItemInput);
      case 'PutItem':
        return this.putItem(input as unknown as PutItemInput);
      case 'DeleteItem':
        return this.deleteItem(input as unknown as DeleteItemInput);
      case 'UpdateItem':
        return this.updateItem(input as unknown as UpdateItemInput);
      case 'Query':
        return this.read(input as unknown as ReadInput, true);
      case 'Scan':
        return this.read(input as unknown as ReadInput, false);
      case 'BatchGetItem':
        return this.batchGet(
          input as { RequestItems?: Record<string, { Keys: Item[]; ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> }> },
        );
      case 'BatchWriteItem':
        return this.batchWrite(input as { RequestItems?: Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]> });
      default:
        throw new AwsError('UnknownOperationException', `DynamoDB operation '${op || '(missing X-Amz-Target)'}' is not emulated by the opsflow local runtime`);
    }
  }

  // -- operations ---------------------------------------------------------------------------------------

  private createTable(input: CreateTableInput): Table {
    const name = input.TableName;
    // "TableName ... Length Constraints: Minimum length of 3. Maximum length of 255. Pattern: [a-zA-Z0-9_.-]+" (CreateTable).
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{3,255}$/.test(name)) {
      throw invalid(
        `1 validation error detected: Value '${String(name)}' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+`,
      );
    }
    this.sweep(name);
    // "ResourceInUseException ... You attempted to recreate an existing table"; AWS's words, as recorded by users:
    // "Table already exists: <name>" (https://github.com/joshsymonds/Dynamoid/issues/178).
    if (this.tables.has(name)) throw new AwsError('ResourceInUseException', `Table already exists: ${name}`);
    const keySchema = input.KeySchema ?? [];
    const attributeDefinitions = input.AttributeDefinitions ?? [];
    const keys = [...keySchema, ...(input.GlobalSecondaryIndexes ?? []).flatMap((g) => g.KeySchema ?? [])].map((k) => k.AttributeName);
    const unused = attributeDefinitions.map((a) => a.AttributeName).filter((a) => !keys.includes(a));
    // Every attribute definition must be a key of the table or an index (AWS answers this ValidationException).
    if (unused.length) {
      throw invalid(
        `One or more parameter values were invalid: Some AttributeDefinitions are not used. AttributeDefinitions: [${attributeDefinitions.map((a) => a.AttributeName).join(', ')}], keys used: [${[...new Set(keys)].join(', ')}]`,
      );
    }
    // "BillingMode ... PROVISIONED ... PAY_PER_REQUEST"; "If you set BillingMode as PROVISIONED, you must specify this
    // property [ProvisionedThroughput]. If you set BillingMode as PAY_PER_REQUEST, you cannot specify this property."
    // (CreateTable; PROVISIONED is the default).
    const billingMode = input.BillingMode ?? 'PROVISIONED';
    if (billingMode === 'PROVISIONED' && !input.ProvisionedThroughput)
      throw invalid(
        'One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED',
      );
    if (billingMode === 'PAY_PER_REQUEST' && input.ProvisionedThroughput)
      throw invalid(
        'One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST',
      );
    const def: TableDefinition = {
      name,
      keySchema,
      attributeDefinitions,
      globalSecondaryIndexes: input.GlobalSecondaryIndexes,
      billingMode,
      readCapacity: input.ProvisionedThroughput?.ReadCapacityUnits,
      writeCapacity: input.ProvisionedThroughput?.WriteCapacityUnits,
    };
    try {
      this.addTable(def);
    } catch (err) {
      throw invalid(`One or more parameter values were invalid: ${(err as Error).message.replace(/^table [^:]+: /, '')}`);
    }
    const table = this.tables.get(name)!;
    table.activeAt = table.createdAt + TABLE_TRANSITION_MS;
    this.created.put(name, { def, createdAt: table.createdAt, activeAt: table.activeAt });
    return table;
  }

  private deleteTable(name: unknown): Table {
    const table = this.table(name, true);
    // "If a table is in CREATING or UPDATING states, then DynamoDB returns a ResourceInUseException ... If table is
    // already in the DELETING state, no error is returned." (DeleteTable); AWS's words as recorded by users:
    // "Attempt to change a resource which is still in use: Table is being created: <name>"
    // (https://github.com/terraform-aws-modules/terraform-aws-dynamodb-table/issues/51).
    if (this.status(table) === 'CREATING') {
      throw new AwsError('ResourceInUseException', `Attempt to change a resource which is still in use: Table is being created: ${table.def.name}`);
    }
    table.goneAt ??= this.now() + TABLE_TRANSITION_MS;
    const created = this.created.get(table.def.name);
    this.created.put(table.def.name, { ...(created ?? { def: table.def, createdAt: table.createdAt, activeAt: table.activeAt }), goneAt: table.goneAt });
    return table;
  }

  private status(table: Table): 'CREATING' | 'ACTIVE' | 'DELETING' {
    if (table.goneAt !== undefined) return 'DELETING';
    return this.now() < table.activeAt ? 'CREATING' : 'ACTIVE';
  }

  /** A deleted table whose deletion is complete is gone, with its items. */
  private sweep(name: string): void {
    const table = this.tables.get(name);
    if (!table || table.goneAt === undefined || this.now() < table.goneAt) return;
    for (const key of [...table.items.keys()]) this.removeItem(table, key);
    this.tables.delete(name);
    this.created.delete(name);
  }

  private listTables(input: { ExclusiveStartTableName?: string; Limit?: number }) {
    for (const name of [...this.tables.keys()]) this.sweep(name);
    const names = [...this.tables.keys()].sort().filter((n) => !input.ExclusiveStartTableName || n > input.ExclusiveStartTableName);
    const limit = input.Limit ?? 100;
    const page = names.slice(0, limit);
    return { TableNames: page, ...(names.length > limit ? { LastEvaluatedTableName: page[page.length - 1] } : {}) };
  }

  private getItem(input: GetItemInput) {
    const table = this.table(input.TableName);
    const ctx = new ExpressionContext(input.ExpressionAttributeNames);
    const projection = input.ProjectionExpression ? parseProjection(input.ProjectionExpression, ctx) : undefined;
    ctx.checkAllUsed();
    const item = table.items.get(this.keyString(table, this.checkKey(table, input.Key)));
    return item ? { Item: project(item, projection) } : {};
  }

  private putItem(input: PutItemInput) {
    const table = this.table(input.TableName);
    const item = checkItem(input.Item ?? {});
    this.checkItemKeys(table, item);
    this.checkSize(item, 'Item size has exceeded the maximum allowed size');
    const key = this.keyString(table, item);
    const old = table.items.get(key);
    this.checkCondition(input, old);
    this.setItem(table, key, item);
    return returnValues(input.ReturnValues, ['NONE', 'ALL_OLD'], old, item, []);
  }

  private deleteItem(input: DeleteItemInput) {
    const table = this.table(input.TableName);
    const key = this.keyString(table, this.checkKey(table, input.Key));
    const old = table.items.get(key);
    this.checkCondition(input, old);
    if (old) {
      this.removeItem(table, key);
    }
    return returnValues(input.ReturnValues, ['NONE', 'ALL_OLD'], old, undefined, []);
  }

  private updateItem(input: UpdateItemInput) {
    const table = this.table(input.TableName);
    const keyItem = this.checkKey(table, input.Key);
    const key = this.keyString(table, keyItem);
    const old = table.items.get(key);
    const ctx = new ExpressionContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    if (!input.UpdateExpression) throw invalid('UpdateExpression is required (AttributeUpdates is not supported)');
    const actions = new Parser(input.UpdateExpression, 'UpdateExpression', ctx).update();
    const condition = input.ConditionExpression ? parseCondition(input.ConditionExpression, 'ConditionExpression', ctx) : undefined;
    ctx.checkAllUsed();
    for (const a of actions) {
      if (table.def.keySchema.some((k) => k.AttributeName === a.path[0])) {
        throw invalid(`One or more parameter values were invalid: Cannot update attribute ${a.path[0]}. This attribute is part of the key`);
      }
    }
    if (condition && !evalCond(old ?? {}, condition)) throw conditionFailed(input, old);
    const updated = applyUpdate(old ?? clone(keyItem), actions);
    this.checkItemKeys(table, updated);
    this.checkSize(updated, 'Item size to update has exceeded the maximum allowed size');
    this.setItem(table, key, updated);
    const touched = [...new Set(actions.map((a) => a.path[0] as string))];
    return returnValues(input.ReturnValues, ['NONE', 'ALL_OLD', 'UPDATED_OLD', 'ALL_NEW', 'UPDATED_NEW'], old, updated, touched);
  }

  /** Query and Scan share paging, filtering and projection; only the candidate set differs. */
  private read(input: ReadInput, isQuery: boolean) {
    const table = this.table(input.TableName);
    const index = input.IndexName ? table.def.globalSecondaryIndexes?.find((g) => g.IndexName === input.IndexName) : undefined;
    if (input.IndexName && !index) throw invalid(`The table does not have the specified index: ${input.IndexName}`);
    if (index && input.ConsistentRead) throw invalid('Consistent reads are not supported on global secondary indexes');
    if (input.Limit !== undefined && !(Number.isInteger(input.Limit) && input.Limit > 0)) throw invalid('Limit must be a positive integer');
    const ctx = new ExpressionContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    const tableKeys = keyView(table.def.keySchema);
    const keys = index ? keyView(index.KeySchema) : tableKeys;
    let keyCondition: Cond | undefined;
    if (isQuery) {
      if (!input.KeyConditionExpression) throw invalid('Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
      keyCondition = parseCondition(input.KeyConditionExpression, 'KeyConditionExpression', ctx);
      checkKeyCondition(keyCondition, keys);
    }
    const filter = input.FilterExpression ? parseCondition(input.FilterExpression, 'FilterExpression', ctx) : undefined;
    const projection = input.ProjectionExpression ? parseProjection(input.ProjectionExpression, ctx) : undefined;
    ctx.checkAllUsed();

    // Index entries exist only for items that carry the index key attributes with the declared types (sparse).
    const types = new Map(table.def.attributeDefinitions.map((a) => [a.AttributeName, a.AttributeType]));
    const inIndex = (item: Item) => [keys.hash, keys.range].every((k) => !k || (item[k] !== undefined && typeOf(item[k]) === types.get(k)));
    const order = [keys.hash, keys.range, ...(index ? [tableKeys.hash, tableKeys.range] : [])].filter((k): k is string => !!k);
    const compare = (a: Item, b: Item) => {
      for (const k of order) {
        const c = a[k] && b[k] ? (compareScalars(a[k], b[k]) ?? 0) : 0;
        if (c) return c;
      }
      return 0;
    };
    let candidates = [...table.items.values()].filter((item) => inIndex(item) && (!keyCondition || evalCond(item, keyCondition)));
    candidates.sort(compare);
    if (isQuery && input.ScanIndexForward === false) candidates.reverse();
    if (input.ExclusiveStartKey) {
      const start = checkItem(input.ExclusiveStartKey, 'ExclusiveStartKey');
      const direction = isQuery && input.ScanIndexForward === false ? -1 : 1;
      candidates = candidates.filter((item) => compare(item, start) * direction > 0);
    }
    // "A single Query operation will read up to the maximum number of items set (if using the Limit parameter) or
    // a maximum of 1 MB of data and then apply any filtering to the results using FilterExpression."
    // "If the total size of scanned items exceeds the maximum dataset size limit of 1 MB, the scan completes and
    // results are returned to the user. The LastEvaluatedKey value is also returned."
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html
    // The size read is the item's (an index entry's, for an index) as DynamoDB sizes items; the item that takes
    // the page past 1 MB is the last one read.
    const entry = (item: Item) => (index ? indexProjection(item, index.Projection, order) : item);
    let evaluated = input.Limit !== undefined ? candidates.slice(0, input.Limit) : candidates;
    if (this.pageBytes !== undefined) {
      let read = 0;
      let n = 0;
      while (n < evaluated.length && read <= this.pageBytes) read += dynamoItemSize(entry(evaluated[n++]));
      if (n < evaluated.length) evaluated = evaluated.slice(0, n);
    }
    const last = evaluated.length < candidates.length ? evaluated[evaluated.length - 1] : undefined;
    const matched = filter ? evaluated.filter((item) => evalCond(item, filter)) : evaluated;
    const visible = matched.map(entry);
    return {
      ...(input.Select === 'COUNT' ? {} : { Items: visible.map((item) => project(item, projection)) }),
      Count: matched.length,
      ScannedCount: evaluated.length,
      ...(last ? { LastEvaluatedKey: Object.fromEntries(order.map((k) => [k, last[k]])) } : {}),
    };
  }

  private batchGet(input: {
    RequestItems?: Record<string, { Keys: Item[]; ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> }>;
  }) {
    const responses: Record<string, Item[]> = {};
    for (const [name, request] of Object.entries(input.RequestItems ?? {})) {
      responses[name] = request.Keys.map(
        (Key) =>
          this.getItem({ TableName: name, Key, ProjectionExpression: request.ProjectionExpression, ExpressionAttributeNames: request.ExpressionAttributeNames })
            .Item,
      ).filter((i): i is Item => !!i);
    }
    return { Responses: responses, UnprocessedKeys: {} };
  }

  private batchWrite(input: { RequestItems?: Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]> }) {
    const requests = Object.entries(input.RequestItems ?? {}).flatMap(([name, list]) => list.map((r) => [name, r] as const));
    if (requests.length === 0 || requests.length > 25) throw invalid('BatchWriteItem takes between 1 and 25 requests');
    // Validate everything first so a bad request leaves no partial write behind.
    for (const [name, r] of requests) {
      const table = this.table(name);
      if (r.PutRequest) {
        const item = checkItem(r.PutRequest.Item);
        this.checkItemKeys(table, item);
        this.checkSize(item, 'Item size has exceeded the maximum allowed size');
      } else if (r.DeleteRequest) this.checkKey(table, r.DeleteRequest.Key);
      else throw invalid('Each write request needs PutRequest or DeleteRequest');
    }
    for (const [name, r] of requests) {
      if (r.PutRequest) this.putItem({ TableName: name, Item: r.PutRequest.Item });
      else this.deleteItem({ TableName: name, Key: r.DeleteRequest!.Key });
    }
    return { UnprocessedItems: {} };
  }

  // -- helpers ------------------------------------------------------------------------------------------

  /**
   * The table a request names. Items are read and written only while it is ACTIVE: "The operation tried to access a
   * nonexistent table or index. The resource might not be specified correctly, or its status might not be ACTIVE."
   * (ResourceNotFoundException, https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html and
   * the item operations' pages). A DELETING table "might continue to accept data read and write operations"
   * (DeleteTable): refused here, the stricter reading. `anyStatus` for the table operations.
   */
  private table(name: unknown, anyStatus = false): Table {
    if (typeof name !== 'string' || !name)
      throw invalid("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null");
    this.sweep(name);
    const table = this.tables.get(name);
    if (!table || (!anyStatus && this.status(table) !== 'ACTIVE'))
      throw new AwsError('ResourceNotFoundException', `Requested resource not found: Table: ${name} not found`);
    this.expire(table);
    return table;
  }

  private expire(table: Table): void {
    const attr = table.def.timeToLiveAttribute;
    if (!attr || !this.clock) return;
    const nowSeconds = this.clock.nowMs() / 1000;
    for (const [key, item] of table.items) {
      const ttl = item[attr]?.N;
      if (ttl !== undefined && Number(ttl) < nowSeconds) this.removeItem(table, key);
    }
  }

  private describe(table: Table) {
    const { def } = table;
    const types = new Map(def.attributeDefinitions.map((a) => [a.AttributeName, a.AttributeType]));
    const bytes = [...table.items.values()].reduce((n, i) => n + Buffer.byteLength(JSON.stringify(i)), 0);
    return {
      TableName: def.name,
      TableArn: arn.table(def.name),
      TableStatus: this.status(table),
      KeySchema: def.keySchema,
      AttributeDefinitions: def.attributeDefinitions,
      ItemCount: table.items.size,
      TableSizeBytes: bytes,
      CreationDateTime: table.createdAt / 1000,
      BillingModeSummary: { BillingMode: def.billingMode ?? 'PAY_PER_REQUEST' },
      ProvisionedThroughput: { ReadCapacityUnits: def.readCapacity ?? 0, WriteCapacityUnits: def.writeCapacity ?? 0, NumberOfDecreasesToday: 0 },
      ...(def.globalSecondaryIndexes?.length
        ? {
            GlobalSecondaryIndexes: def.globalSecondaryIndexes.map((g) => ({
              IndexName: g.IndexName,
              IndexArn: `${arn.table(def.name)}/index/${g.IndexName}`,
              KeySchema: g.KeySchema,
              Projection: g.Projection,
              IndexStatus: this.status(table),
              ItemCount: [...table.items.values()].filter((i) =>
                g.KeySchema.every((k) => i[k.AttributeName] && typeOf(i[k.AttributeName]) === types.get(k.AttributeName)),
              ).length,
            })),
          }
        : {}),
    };
  }

  /** A Key parameter must hold exactly the table's key attributes, with the declared types. */
  private checkKey(table: Table, key: Item | undefined): Item {
    const checked = checkItem(key ?? {}, 'Key');
    const names = table.def.keySchema.map((k) => k.AttributeName);
    const types = new Map(table.def.attributeDefinitions.map((a) => [a.AttributeName, a.AttributeType]));
    const ok = Object.keys(checked).length === names.length && names.every((n) => checked[n] !== undefined && typeOf(checked[n]) === types.get(n));
    if (!ok) throw invalid('The provided key element does not match the schema');
    return checked;
  }

  /** Items must carry the table key, and any index key they carry must have the declared type. */
  private checkItemKeys(table: Table, item: Item): void {
    const types = new Map(table.def.attributeDefinitions.map((a) => [a.AttributeName, a.AttributeType]));
    for (const k of table.def.keySchema) {
      const v = item[k.AttributeName];
      if (v === undefined) throw invalid(`One or more parameter values were invalid: Missing the key ${k.AttributeName} in the item`);
      if (typeOf(v) !== types.get(k.AttributeName)) {
        throw invalid(
          `One or more parameter values were invalid: Type mismatch for key ${k.AttributeName} expected: ${types.get(k.AttributeName)} actual: ${typeOf(v)}`,
        );
      }
      if ((v.S ?? v.B) === '')
        throw invalid(
          `One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: ${k.AttributeName}`,
        );
    }
    for (const g of table.def.globalSecondaryIndexes ?? []) {
      for (const k of g.KeySchema) {
        const v = item[k.AttributeName];
        if (v !== undefined && typeOf(v) !== types.get(k.AttributeName)) {
          throw invalid(
            `One or more parameter values were invalid: Type mismatch for Index Key ${k.AttributeName} Expected: ${types.get(k.AttributeName)} Actual: ${typeOf(v)} IndexName: ${g.IndexName}`,
          );
        }
      }
    }
  }

  /**
   * "The maximum item size in DynamoDB is 400 KB" (DYNAMODB_ITEM_BYTES), measured on the item as it would be stored
   * (canonical numbers), after an update as well as on a put. The messages are those the TransactWriteItems
   * reference lists: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
   */
  private checkSize(item: Item, message: string): void {
    if (this.itemBytes !== undefined && dynamoItemSize(item) > this.itemBytes) throw invalid(message);
  }

  private checkCondition(input: ConditionalInput, old: Item | undefined): void {
    const ctx = new ExpressionContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    const condition = input.ConditionExpression ? parseCondition(input.ConditionExpression, 'ConditionExpression', ctx) : undefined;
    ctx.checkAllUsed();
    if (condition && !evalCond(old ?? {}, condition)) throw conditionFailed(input, old);
  }

  private keyString(table: Table, item: Item): string {
    return JSON.stringify(table.def.keySchema.map((k) => item[k.AttributeName]));
  }

  private now(): number {
    return this.clock?.nowMs() ?? Date.now();
  }

  private setItem(table: Table, key: string, item: Item): void {
    table.items.set(key, item);
    this.stored.put(`${table.def.name}\n${key}`, item);
  }

  private removeItem(table: Table, key: string): void {
    table.items.delete(key);
    this.stored.delete(`${table.def.name}\n${key}`);
  }
}

/** A Query key condition: equality on the partition key, optionally AND one sort key condition. */
function checkKeyCondition(cond: Cond, keys: KeyView): void {
  const parts: Cond[] = [];
  const flatten = (c: Cond) => {
    if (c.k === 'and') {
      flatten(c.l);
      flatten(c.r);
    } else if (c.k === 'or' || c.k === 'not') throw invalid(`Invalid operator used in KeyConditionExpression: ${c.k.toUpperCase()}`);
    else parts.push(c);
  };
  flatten(cond);
  const attributeOf = (c: Cond): string | undefined => {
    const a = c.k === 'fn' ? c.args[0] : c.k === 'cmp' || c.k === 'between' || c.k === 'in' ? c.a : undefined;
    return a?.k === 'path' && a.path.length === 1 ? (a.path[0] as string) : undefined;
  };
  const isValue = (o: Operand) => o.k === 'value';
  const sortConditionOk = (c: Cond) =>
    (c.k === 'cmp' && c.op !== '<>' && isValue(c.b)) ||
    (c.k === 'between' && isValue(c.lo) && isValue(c.hi)) ||
    (c.k === 'fn' && c.name === 'begins_with' && isValue(c.args[1]));
  let hashSeen = false;
  let rangeSeen = false;
  for (const c of parts) {
    const attr = attributeOf(c);
    if (attr === keys.hash && !hashSeen && c.k === 'cmp' && c.op === '=' && isValue(c.b)) hashSeen = true;
    else if (attr !== undefined && attr === keys.range && !rangeSeen && sortConditionOk(c)) rangeSeen = true;
    else if (attr !== undefined && attr !== keys.hash && attr !== keys.range)
      throw invalid(`Query key condition not supported: ${attr} is not a key attribute`);
    else throw invalid('Query key condition not supported');
  }
  if (!hashSeen) throw invalid(`Query condition missed key schema element: ${keys.hash}`);
}

function indexProjection(item: Item, projection: Projection, keys: string[]): Item {
  const type = projection.ProjectionType ?? 'ALL';
  if (type === 'ALL') return item;
  const keep = new Set([...keys, ...(type === 'INCLUDE' ? (projection.NonKeyAttributes ?? []) : [])]);
  return Object.fromEntries(Object.entries(item).filter(([k]) => keep.has(k)));
}

function returnValues(mode: string | undefined, allowed: string[], old: Item | undefined, updated: Item | undefined, touched: string[]) {
  const m = mode ?? 'NONE';
  if (!allowed.includes(m)) throw invalid(`ReturnValues can only be ${allowed.join(', ')} for this operation, got ${m}`);
  const pick = (item: Item | undefined) => (item ? Object.fromEntries(touched.filter((k) => item[k] !== undefined).map((k) => [k, item[k]])) : undefined);
  const attributes = { NONE: undefined, ALL_OLD: old, ALL_NEW: updated, UPDATED_OLD: pick(old), UPDATED_NEW: pick(updated) }[m];
  return attributes && Object.keys(attributes).length ? { Attributes: attributes } : {};
}

class ConditionalCheckFailed extends AwsError {
  constructor(readonly item: Item | undefined) {
    super('ConditionalCheckFailedException', 'The conditional request failed');
  }
}

function conditionFailed(input: ConditionalInput, old: Item | undefined): AwsError {
  return new ConditionalCheckFailed(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? old : undefined);
}

function errorResponse(err: unknown): AwsResponse {
  const error = err instanceof AwsError ? err : new AwsError('InternalServerError', (err as Error).message, 500);
  const namespace =
    error.code === 'ValidationException'
      ? 'com.amazon.coral.validate'
      : error.code === 'UnknownOperationException' || error.code === 'SerializationException'
        ? 'com.amazon.coral.service'
        : 'com.amazonaws.dynamodb.v20120810';
  const body: Record<string, unknown> = { __type: `${namespace}#${error.code}`, message: error.message };
  if (err instanceof ConditionalCheckFailed && err.item) body.Item = err.item;
  return { status: error.status, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify(body) };
}

function ok(body: unknown): AwsResponse {
  return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify(body) };
}

interface ConditionalInput {
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
  ReturnValuesOnConditionCheckFailure?: 'ALL_OLD' | 'NONE';
}

interface CreateTableInput {
  TableName?: string;
  KeySchema?: KeySchemaElement[];
  AttributeDefinitions?: TableDefinition['attributeDefinitions'];
  GlobalSecondaryIndexes?: TableDefinition['globalSecondaryIndexes'];
  BillingMode?: 'PAY_PER_REQUEST' | 'PROVISIONED';
  ProvisionedThroughput?: { ReadCapacityUnits: number; WriteCapacityUnits: number };
}

interface GetItemInput {
  TableName: string;
  Key: Item;
  ProjectionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
}

interface PutItemInput extends ConditionalInput {
  TableName: string;
  Item: Item;
  ReturnValues?: string;
}

interface DeleteItemInput extends ConditionalInput {
  TableName: string;
  Key: Item;
  ReturnValues?: string;
}

interface UpdateItemInput extends ConditionalInput {
  TableName: string;
  Key: Item;
  UpdateExpression?: string;
  ReturnValues?: string;
}

interface ReadInput {
  TableName: string;
  IndexName?: string;
  KeyConditionExpression?: string;
  FilterExpression?: string;
  ProjectionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
  Limit?: number;
  ExclusiveStartKey?: Item;
  ScanIndexForward?: boolean;
  ConsistentRead?: boolean;
  Select?: string;
}
