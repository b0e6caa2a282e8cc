/**
 * A record panel: what a table's records mean to a person, declared by the app in its template so that a console
 * (the local runtime's, README "Record panels") can show them next to the execution each record belongs to, and
 * list the ones still waiting for people, without knowing the app. It is resource metadata on the table
 * (`Metadata.OpsflowLocal.records`), which CloudFormation stores and ignores.
 *
 * Every `value` is a JSONata expression (https://docs.jsonata.org/) over one record, the item as JSON; a plain
 * attribute name is one. In a `list` column, the expression reads one row, and `$record` is the whole record.
 */
import type { CfnResource } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';

export type RecordFieldType = 'text' | 'time' | 'status';

export interface RecordField {
  readonly label: string;
  /** JSONata over the record (in a list column: over the row, with `$record`). Undefined or null shows as "—". */
  readonly value: string;
  /** How to show the value: `time` an ISO date, `status` a badge. @default 'text' */
  readonly type?: RecordFieldType;
  /** Shown only while the record waits (its status is open and its execution runs). @default false */
  readonly whileOpen?: boolean;
}

export interface RecordPanel {
  /** What one record is, e.g. `Approval`. */
  readonly name: string;
  /** Heading of the list of records still waiting for people, e.g. `Pending approvals`. */
  readonly waitingTitle: string;
  /** Attribute holding the ARN of the execution the record belongs to. */
  readonly executionAttribute: string;
  /** Attribute holding the record's status word. */
  readonly statusAttribute: string;
  /** Status words that mean the record waits for people; once its execution ends, a console shows it closed. */
  readonly openStatuses: readonly string[];
  /** JSONata: the record's title. */
  readonly title?: string;
  /** JSONata: when the wait ends at the latest (ISO date). */
  readonly deadline?: string;
  /** JSONata: why a record that is no longer open closed, when the record says. */
  readonly closedReason?: string;
  readonly facts?: readonly RecordField[];
  /** A list in the record, shown as a table: `rows` is JSONata giving the rows. */
  readonly list?: { readonly label: string; readonly rows: string; readonly columns: readonly RecordField[] };
  /** JSONata: whom an open record waits on, `[{ "who": string, "since": ISO date or null }]`. */
  readonly waitingOn?: string;
}

/** Declares `panel` on `table`'s CloudFormation resource. */
export function addRecordPanel(table: Table, panel: RecordPanel): void {
  (table.node.defaultChild as CfnResource).addMetadata('OpsflowLocal', { records: panel });
}
