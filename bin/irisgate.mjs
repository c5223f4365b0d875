#!/usr/bin/env node
// The `irisgate` command: loads the TypeScript sources through tsx and runs the dispatcher.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
