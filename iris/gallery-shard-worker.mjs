// Entry of a gallery shard's worker thread: loads the TypeScript worker through tsx, as bin/irisgate.mjs
// does for the command line, so it runs the same under node, tsx and vitest.
import { register } from 'tsx/esm/api';

register();
await import('./gallery-shard-worker.ts');
