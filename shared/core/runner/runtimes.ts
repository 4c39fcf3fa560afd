/**
 * The runtimes of a deployment as one AgentSandbox: each run goes to the runtime its agent asked
 * for (the bundle's `runtime`, if the deployment allows it) or to the default; bundles are
 * inspected by the default runtime, and a bundle asking for a runtime the deployment does not
 * allow is not an agent here (`bad_manifest`).
 */
import { BundleRejectedError } from '../errors';
import type { AgentSandbox, SandboxResult, SandboxRun, VerifiedBundleRef } from '../ports';
import type { BundleManifest, RuntimeName } from '../registry';
import { RuntimeUnavailableError } from './errors';

export class RuntimeSelector implements AgentSandbox {
  constructor(
    private readonly runtimes: Partial<Record<RuntimeName, AgentSandbox>>,
    readonly defaultRuntime: RuntimeName,
  ) {
    if (!runtimes[defaultRuntime]) throw new RuntimeUnavailableError(defaultRuntime, Object.keys(runtimes));
  }

  /** the runtimes a bundle may ask for */
  get allowed(): RuntimeName[] {
    return Object.keys(this.runtimes) as RuntimeName[];
  }

  private of(name: RuntimeName | undefined): AgentSandbox {
    const r = this.runtimes[name ?? this.defaultRuntime];
    if (!r) throw new RuntimeUnavailableError(name ?? this.defaultRuntime, this.allowed);
    return r;
  }

  async inspect(bundle: VerifiedBundleRef): Promise<BundleManifest> {
    const manifest = await this.of(undefined).inspect(bundle);
    if (manifest.runtime && !this.runtimes[manifest.runtime])
      throw new BundleRejectedError(
        'bad_manifest',
        `the bundle asks for the runtime "${manifest.runtime}", which this deployment does not allow (allowed: ${this.allowed.join(', ')})`,
        {
          key: bundle.key,
        },
      );
    return manifest;
  }

  run(run: SandboxRun): Promise<SandboxResult> {
    return this.of(run.runtime).run(run);
  }
}
