#!/usr/bin/env node
// agentctl entry: loads the TypeScript CLI through tsx (a runtime dependency), so no build step
// is needed after `npm ci`.
import { tsImport } from 'tsx/esm/api';

// The SDK warns once per process that its 2027 releases need node 22; agentctl pins its SDK in
// package-lock.json, so on node 20 that warning would only clutter every command's stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const mod = await tsImport('../cli/agentctl.ts', import.meta.url);
const code = await mod.main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
process.exitCode = code;
