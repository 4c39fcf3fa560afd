/**
 * A component of local mode that can be stopped and started on its own
 * (`POST /components/{name}/{stop|start}`). In the cloud the same switch disables the
 * component's EventBridge rule, schedule or event source mapping instead.
 */
import type { ComponentName } from '../shared/definitions/routing';

export { COMPONENT_NAMES, type ComponentName } from '../shared/definitions/routing';

export interface LocalComponent {
  readonly name: ComponentName;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
  isRunning(): boolean;
}
