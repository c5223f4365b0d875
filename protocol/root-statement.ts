/**
 * A root statement: the backend's signed word on a Merkle root of its group, so an app can check a proof's
 * root offline (without asking the backend) with the backend's receipt key pinned.
 *
 * Signed with the receipt key (ECDSA P-256, low-S, protocol/signature.ts) over
 *   "irisgate/root-statement/v1" | u8 version (1) | bytes root (32) | u64 size | u64 createdAtMs
 *   | u8 superseded (0/1) | u64 supersededAtMs (0 when current) | u64 statedAtMs
 * "at statedAtMs, this root (a group of `size` members, issued at createdAtMs) was current, or had been
 * replaced at supersededAtMs". As a RootRecord a current root counts as replaced at statedAtMs: the
 * statement cannot tell whether it was replaced the moment after, so an old statement ages like a replaced
 * root and the app needs a fresh one.
 */
import { bigIntToBytes, fromHex, toHex } from './bytes.ts';
import { canonicalMessage } from './canonical.ts';
import { IrisgateError } from './errors.ts';
import { verifySignature } from './signature.ts';
import { RECEIPT_ALGORITHM } from './signup-receipt.ts';
import { isFieldElement, type RootRecord, type RootSource } from './uniqueness-proof.ts';

export const ROOT_STATEMENT_DOMAIN = 'irisgate/root-statement/v1';

export interface RootStatement {
  version: 1;
  root: bigint;
  size: number;
  createdAtMs: number;
  supersededAtMs: number | null;
  statedAtMs: number;
}

/** The statement as JSON: the root as a decimal string, the signature as lower-case hex. */
export interface RootStatementJson {
  version: 1;
  root: string;
  size: number;
  createdAtMs: number;
  supersededAtMs: number | null;
  statedAtMs: number;
  signature: string;
}

export function rootStatementSigningBytes(statement: RootStatement): Uint8Array {
  return canonicalMessage(ROOT_STATEMENT_DOMAIN)
    .u8(statement.version)
    .bytes(bigIntToBytes(statement.root, 32))
    .u64(statement.size)
    .u64(statement.createdAtMs)
    .u8(statement.supersededAtMs === null ? 0 : 1)
    .u64(statement.supersededAtMs ?? 0)
    .u64(statement.statedAtMs)
    .finish();
}

export function rootStatementToJson(statement: RootStatement, signature: Uint8Array): RootStatementJson {
  return { ...statement, root: statement.root.toString(), signature: toHex(signature) };
}

const invalid = (message: string) => new IrisgateError('invalid_root_statement', message);
const time = (value: unknown, field: string): number => {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw invalid(`${field} must be a time in ms`);
  return value as number;
};

/**
 * The statement, once its signature by the backend key `publicKey` (uncompressed P-256 point) verifies;
 * invalid_root_statement otherwise.
 */
export async function verifyRootStatement(json: unknown, publicKey: Uint8Array): Promise<RootStatement> {
  if (typeof json !== 'object' || json === null) throw invalid('a root statement must be an object');
  const j = json as Record<string, unknown>;
  if (j.version !== 1) throw invalid('unsupported root statement version');
  if (!isFieldElement(j.root)) {
    throw invalid('root must be a decimal field element');
  }
  if (typeof j.signature !== 'string' || !/^[0-9a-f]{128}$/.test(j.signature)) {
    throw invalid('signature must be 64 bytes of lower-case hex');
  }
  const statement: RootStatement = {
    version: 1,
    root: BigInt(j.root),
    size: time(j.size, 'size'),
    createdAtMs: time(j.createdAtMs, 'createdAtMs'),
    supersededAtMs: j.supersededAtMs === null ? null : time(j.supersededAtMs, 'supersededAtMs'),
    statedAtMs: time(j.statedAtMs, 'statedAtMs'),
  };
  try {
    await verifySignature(
      RECEIPT_ALGORITHM,
      publicKey,
      rootStatementSigningBytes(statement),
      fromHex(j.signature),
    );
  } catch (cause) {
    throw new IrisgateError('invalid_root_statement', 'the root statement is not signed by the backend key', {
      cause,
    });
  }
  return statement;
}

/** What a verified statement tells of its root (a current root counts as replaced at statedAtMs). */
export function rootRecordOf(statement: RootStatement): RootRecord {
  return {
    createdAtMs: statement.createdAtMs,
    supersededAtMs: statement.supersededAtMs ?? statement.statedAtMs,
  };
}

/** A RootSource of statements verified beforehand: the freshest statement of each root counts. */
export function statementRoots(statements: readonly RootStatement[]): RootSource {
  const byRoot = new Map<bigint, RootRecord>();
  for (const statement of statements) {
    const record = rootRecordOf(statement);
    const known = byRoot.get(statement.root);
    if (!known || (record.supersededAtMs ?? Infinity) > (known.supersededAtMs ?? Infinity)) {
      byRoot.set(statement.root, record);
    }
  }
  return { lookup: async (root) => byRoot.get(root) };
}
