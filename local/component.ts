/**
 * A component of local mode that can be stopped and started on its own
 * (`POST /components/{name}/{stop|start}`). In the cloud the same switch disables the
 * component's EventBridge rule or schedule instead.
 */
export const COMPONENT_NAMES = ['manager', 'scheduler', 'runner', 'monitor', 'bus'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];

export interface LocalComponent {
  readonly name: ComponentName;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
  isRunning(): boolean;
}
