#!/usr/bin/env node
// agentctl entry: loads the TypeScript CLI through tsx (a runtime dependency), so no build step
// is needed after `npm ci`.
import { tsImport } from 'tsx/esm/api';

const mod = await tsImport('../cli/agentctl.ts', import.meta.url);
const code = await mod.main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
process.exitCode = code;
