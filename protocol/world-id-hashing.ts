/**
 * World ID's hashing, so a proof's scope and message mean the same here as in IDKit:
 *
 *   hashToField(bytes)        keccak256(bytes) >> 8 (a BN254 scalar field element: 248 bits)
 *   externalNullifier(app, a) hashToField(uint256(hashToField(utf8(app))) || utf8(a)) (Solidity encodePacked)
 *   signalHash(signal)        hashToField(utf8(signal))
 *
 * The external nullifier is a proof's Semaphore scope (one nullifier per person per app and action) and the
 * signal hash its message (the proof is bound to it). Semaphore v4 hashes scope and message once more inside
 * (semaphoreHash: keccak256 of the 32-byte big-endian value >> 8) to make the circuit's public inputs.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bigIntToBytes, bytesToBigInt, concatBytes } from './bytes.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

export function hashToField(bytes: Uint8Array): bigint {
  return bytesToBigInt(keccak_256(bytes)) >> 8n;
}

export function externalNullifier(appId: string, action: string): bigint {
  return hashToField(concatBytes(bigIntToBytes(hashToField(utf8(appId)), 32), utf8(action)));
}

export function signalHash(signal: string): bigint {
  return hashToField(utf8(signal));
}

/** Semaphore v4's hash of a message or scope (below 2^256) into the circuit's public input. */
export function semaphoreHash(value: bigint): bigint {
  return hashToField(bigIntToBytes(value, 32));
}
