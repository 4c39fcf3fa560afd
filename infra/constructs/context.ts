/** What the component constructs share (built once by the stack, in dependency order). */
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { TableDef } from '../../shared/definitions/tables';
import type { OrchestratorProps } from '../props';
import type { FunctionDefaults } from './function';
import type { HotDirectory } from './hot-directory';
import type { AgentsEventBus } from './event-bus';
import type { DeadLetters } from './queues';
import type { Schedules } from './schedules';

export interface OrchestratorContext {
  props: OrchestratorProps;
  functions: FunctionDefaults;
  tables: Record<TableDef['id'], dynamodb.Table>;
  hot: HotDirectory;
  bus: AgentsEventBus;
  deadLetters: DeadLetters;
  schedules: Schedules;
  /** the runner's input: scheduled slots, triggers, envelope deliveries */
  dispatchQueue: sqs.Queue;
}
