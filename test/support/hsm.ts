/** Test helpers for the development trusted hardware brought up by test/global-setup.ts. */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { type HsmFixture, loadHsmFixture } from '../../hsm/fixture/fixture.ts';

export function sharedHsmFixture(): HsmFixture {
  return loadHsmFixture(inject('hsmFixtureDir'));
}

/** A key label no other test uses, so tests can share one token. */
export function uniqueKeyLabel(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
