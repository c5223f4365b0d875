/**
 * A presentation: what a wallet hands an app, the proof with what it was made for and the backend's signed
 * statement of its root (so the app may check the root offline with the backend's key pinned):
 *
 *   {"version": 1, "appId", "action", "signal", "proof": UniquenessProof, "rootStatement": RootStatementJson}
 *
 * appId and action say what the wallet meant; the app verifies against its own (a proof made for another
 * app or action is refused by the scope check). The proof's own fields are checked by the verifier.
 */
import { IrisgateError } from '../protocol/errors.ts';
import type { RootStatementJson } from '../protocol/root-statement.ts';
import type { UniquenessProof } from '../protocol/uniqueness-proof.ts';

export interface Presentation {
  version: 1;
  appId: string;
  action: string;
  signal: string;
  proof: UniquenessProof;
  rootStatement: RootStatementJson;
}

/** A presentation's fields as they came (the proof and statement unchecked: the verifier checks them). */
export interface ParsedPresentation {
  version: 1;
  appId: string;
  action: string;
  signal: string;
  proof: unknown;
  rootStatement?: unknown;
}

const invalid = (message: string) => new IrisgateError('invalid_format', message);

/** The presentation's envelope, or invalid_format. */
export function parsePresentation(value: unknown): ParsedPresentation {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('a presentation must be a JSON object');
  }
  const p = value as Record<string, unknown>;
  if (p.version !== 1) throw invalid(`presentation version ${String(p.version)} is not supported (1)`);
  for (const field of ['appId', 'action', 'signal'] as const) {
    if (typeof p[field] !== 'string') throw invalid(`the presentation's ${field} must be a string`);
  }
  if (!('proof' in p)) throw invalid('the presentation has no proof');
  return {
    version: 1,
    appId: p.appId as string,
    action: p.action as string,
    signal: p.signal as string,
    proof: p.proof,
    ...(p.rootStatement === undefined ? {} : { rootStatement: p.rootStatement }),
  };
}
