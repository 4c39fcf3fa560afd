/**
 * Ports of the domain core. Adapters live in shared/adapters (AWS SDK) and local/ (local host);
 * the core never imports @aws-sdk or aws-lambda.
 */
import type { BundleManifest, AgentRecord, NewRegistration, RegisterOutcome, AgentStatus } from './registry';
import type { Envelope } from './envelope';

export interface RegistryStore {
  get(name: string): Promise<AgentRecord | null>;
  list(): Promise<AgentRecord[]>;
  /**
   * Atomically makes `reg` the active version if it is newer than the stored one (conditional
   * write on the sortable version key). Bundle fields are replaced together, never mixed.
   */
  register(reg: NewRegistration): Promise<RegisterOutcome>;
  /** Removes the agent if `version` is still its active version. Returns whether it removed it. */
  deregister(name: string, version: string): Promise<boolean>;
  /** Sets the status, optionally only when the current status is one of `from`. */
  setStatus(name: string, status: AgentStatus, opts?: { from?: AgentStatus[]; at?: string }): Promise<AgentRecord>;
}

export interface StoredObject {
  key: string;
  size: number;
}

export interface BundleObject {
  key: string;
  bytes: Uint8Array;
  /** `signature` user metadata, else the `<key>.sig` sidecar's text */
  signature?: string | undefined;
  signer?: string | undefined;
}

export interface BundleStore {
  /** Size without downloading (HEAD); null if the object does not exist. */
  head(key: string): Promise<StoredObject | null>;
  get(key: string): Promise<BundleObject | null>;
  list(prefix: string): Promise<StoredObject[]>;
  put(key: string, bytes: Uint8Array, metadata: Record<string, string>): Promise<void>;
}

/** Publishes envelopes onto the bus (EventBridge in the cloud, the local router locally). */
export interface EventPublisher {
  publish(envelopes: Envelope[]): Promise<void>;
}

/** Reads what a verified bundle declares, in isolation (worker thread / sandbox). */
export interface BundleInspector {
  inspect(bundle: { key: string; sha256: string; bytes: Uint8Array }): Promise<BundleManifest>;
}
