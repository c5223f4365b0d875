/** The software version devices put in their signups and backends allow: package.json's version. */
import { readFileSync } from 'node:fs';

export const SOFTWARE_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
