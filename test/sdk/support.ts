/** Helpers of the SDK tests: a backend receipt key (P-256) that signs root statements as the backend does. */
import { createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { toHex } from '../../protocol/bytes.ts';
import {
  type RootStatement,
  type RootStatementJson,
  rootStatementSigningBytes,
  rootStatementToJson,
} from '../../protocol/root-statement.ts';
import { normaliseLowS, publicKeyFromSpki } from '../../protocol/signature.ts';
import { RECEIPT_ALGORITHM } from '../../protocol/signup-receipt.ts';

export interface ReceiptKey {
  /** Uncompressed P-256 point, and as hex (what GET /v1/info gives). */
  publicKey: Uint8Array;
  publicKeyHex: string;
  signStatement(statement: Omit<RootStatement, 'version'>): RootStatementJson;
}

/** A fresh receipt key; its statements are signed like backend-secrets.ts ReceiptSigner signs. */
export function receiptKey(): ReceiptKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }));
  const { publicKey } = publicKeyFromSpki(spki);
  return {
    publicKey,
    publicKeyHex: toHex(publicKey),
    signStatement: (fields) => signStatement(privateKey, { version: 1, ...fields }),
  };
}

function signStatement(key: KeyObject, statement: RootStatement): RootStatementJson {
  const der = sign('sha256', rootStatementSigningBytes(statement), { key, dsaEncoding: 'ieee-p1363' });
  return rootStatementToJson(statement, normaliseLowS(RECEIPT_ALGORITHM, new Uint8Array(der)));
}
