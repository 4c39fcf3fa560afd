/**
 * DynamoDB table definitions, the single source for the CDK constructs (infra/) and for the
 * tables local mode creates in DynamoDB Local. Plain data: no CDK or SDK imports.
 */
export interface KeyAttr {
  name: string;
  type: 'S' | 'N';
}
export interface IndexDef {
  indexName: string;
  partitionKey: KeyAttr;
  sortKey?: KeyAttr;
  projection: 'ALL' | 'KEYS_ONLY';
}
export interface TableDef {
  /** logical id used by the CDK construct and the env var that carries the physical name */
  id: 'Registry' | 'Heartbeats' | 'Ledger';
  envVar: 'REGISTRY_TABLE' | 'HEARTBEAT_TABLE' | 'LEDGER_TABLE';
  /** default physical name (local mode; the cloud lets CloudFormation name them) */
  localName: string;
  partitionKey: KeyAttr;
  sortKey?: KeyAttr;
  ttlAttribute?: string;
  indexes?: IndexDef[];
}

export const REGISTRY_TABLE: TableDef = {
  id: 'Registry',
  envVar: 'REGISTRY_TABLE',
  localName: 'agent-registry',
  partitionKey: { name: 'name', type: 'S' },
};

export const TABLES: TableDef[] = [REGISTRY_TABLE];
