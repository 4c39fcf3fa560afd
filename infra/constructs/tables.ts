/**
 * Registry, Heartbeats and Ledger tables, built from shared/definitions/tables.ts (the same
 * definitions local mode and the tests create in DynamoDB Local): key schema, sparse GSIs, TTL.
 * On-demand capacity, point-in-time recovery, deletion protection while data is retained.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLES, type KeyAttr, type TableDef } from '../../shared/definitions/tables';

const attr = (k: KeyAttr): dynamodb.Attribute => ({
  name: k.name,
  type: k.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
});

export interface StateTablesProps {
  retainData: boolean;
}

export class StateTables extends Construct {
  readonly tables: Record<TableDef['id'], dynamodb.Table>;

  constructor(scope: Construct, id: string, props: StateTablesProps) {
    super(scope, id);
    const entries = TABLES.map((def) => {
      const table = new dynamodb.Table(this, def.id, {
        partitionKey: attr(def.partitionKey),
        ...(def.sortKey ? { sortKey: attr(def.sortKey) } : {}),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(def.ttlAttribute ? { timeToLiveAttribute: def.ttlAttribute } : {}),
        removalPolicy: props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        deletionProtection: props.retainData,
      });
      for (const ix of def.indexes ?? []) {
        table.addGlobalSecondaryIndex({
          indexName: ix.indexName,
          partitionKey: attr(ix.partitionKey),
          ...(ix.sortKey ? { sortKey: attr(ix.sortKey) } : {}),
          projectionType: ix.projection === 'ALL' ? dynamodb.ProjectionType.ALL : dynamodb.ProjectionType.KEYS_ONLY,
        });
      }
      return [def.id, table] as const;
    });
    this.tables = Object.fromEntries(entries) as Record<TableDef['id'], dynamodb.Table>;
  }
}
