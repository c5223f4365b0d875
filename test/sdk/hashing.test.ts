/**
 * World ID's hashing as the SDK exports it, against values World ID publishes in its own tests:
 * worldcoin/idkit-js idkit/tests/lib/hashing.test.ts (hashToField of a string and of 32 bytes) and
 * worldcoin/walletkit walletkit-core/src/proof.rs (external nullifiers of app ids and actions, the last
 * from the World ID docs' try-it page).
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../protocol/bytes.ts';
import { externalNullifier, hashToField, semaphoreHash, signalHash } from '../../sdk/index.ts';

const hex = (value: bigint) => `0x${value.toString(16).padStart(64, '0')}`;
const utf8 = (text: string) => new TextEncoder().encode(text);

describe('World ID hashing', () => {
  it('matches the published hashToField values (idkit-js)', () => {
    expect(hex(hashToField(utf8('wid_staging_1')))).toBe(
      '0x00287d53b28fff709bfe583d997b7ec96e89e2f621db8519cd0ffc2dfdce68e3',
    );
    expect(hex(signalHash('wid_staging_1'))).toBe(
      '0x00287d53b28fff709bfe583d997b7ec96e89e2f621db8519cd0ffc2dfdce68e3',
    );
    const one = fromHex(`${'00'.repeat(31)}01`);
    expect(hex(hashToField(one))).toBe('0x00b10e2d527612073b26eecdfd717e6a320cf44b4afac2b0732d9fcbe2b7fa0c');
    // Semaphore v4 hashes a message or scope the same way, from its 32 big-endian bytes.
    expect(semaphoreHash(1n)).toBe(hashToField(one));
    expect(hex(hashToField(fromHex('aaad5a58ab11bc7ee9668f6b7ff52bdde0c64774')))).toBe(
      '0x0036434bc85c8a3564d1b3a2945690c43175fce6d0af9453c091ddec1f818fe5',
    );
  });

  it('matches the published external nullifiers (walletkit)', () => {
    const vectors: [string, string, string][] = [
      [
        'app_369183bd38f1641b6964ab51d7a20434',
        '',
        '0x0073e4a6b670e81dc619b1f8703aa7491dc5aaadf75409aba0ac2414014c0227',
      ],
      [
        'app_staging_45068dca85829d2fd90e2dd6f0bff997',
        'test-action-qli8g',
        '0x00d8b157e767dc59faa533120ed0ce34fc51a71937292ea8baed6ee6f4fda866',
      ],
      [
        'app_10eb12bd96d8f7202892ff25f094c803',
        'test-123123',
        '0x0065ebab05692ff2e0816cc4c3b83216c33eaa4d906c6495add6323fe0e2dc89',
      ],
    ];
    for (const [appId, action, expected] of vectors)
      expect(hex(externalNullifier(appId, action))).toBe(expected);
  });

  it('stays below 2^248, and the external nullifier depends on both app and action', () => {
    const inputs = ['', 'hello', '0x0000000000000000000000000000000000000001', 'é'.repeat(300)];
    for (const text of inputs) expect(signalHash(text) < 1n << 248n).toBe(true);
    expect(new Set(inputs.map(signalHash)).size).toBe(inputs.length);
    const scope = externalNullifier('app_a', 'vote');
    expect(scope < 1n << 248n).toBe(true);
    expect(externalNullifier('app_b', 'vote')).not.toBe(scope);
    expect(externalNullifier('app_a', 'vote2')).not.toBe(scope);
    // The app id is hashed first, so moving characters between app and action changes the result.
    expect(externalNullifier('app_av', 'ote')).not.toBe(scope);
  });
});
