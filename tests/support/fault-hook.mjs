// Loaded into local mode with NODE_OPTIONS=--import (tests/local/npm-start.test.ts): once the file
// named by FAULT_TRIGGER exists, it makes the process fail the way FAULT_KIND says, from outside
// the product's code: 'throw' (an uncaught exception), 'reject' (an unhandled rejection), 'oom'
// (the heap fills until V8 gives up). npm itself also loads NODE_OPTIONS: only local mode acts.
import { existsSync } from 'node:fs';

if (process.argv.some((a) => a.endsWith('local/main.ts')) && process.env.FAULT_TRIGGER) {
  const kind = process.env.FAULT_KIND;
  const hoard = [];
  const timer = setInterval(() => {
    if (!existsSync(process.env.FAULT_TRIGGER)) return;
    clearInterval(timer);
    if (kind === 'throw')
      setTimeout(() => {
        throw new Error('injected fault: uncaught');
      }, 0);
    else if (kind === 'reject') void Promise.reject(new Error('injected fault: unhandled rejection'));
    else if (kind === 'oom')
      setInterval(() => {
        for (let i = 0; i < 2000; i++) hoard.push({ i, s: 'x'.repeat(64) + i });
      }, 1);
  }, 50);
  timer.unref();
}
