/**
 * The signup gate: decides whether a signed signup makes a new member of the group.
 *
 * In order: the envelope parses; it names the device its token belongs to; the device is registered,
 * unrevoked, with a valid certificate; the envelope signature verifies with the device's iris-code key. A
 * signup that fails there is refused and audited, and nothing else is recorded: nobody vouched for it.
 *
 * Then the frame evidence (frame-evidence.ts): the pixels of some frames, sent unsigned beside the
 * envelope, must hash to the frame hashes the device signed. Their PNGs decode (on sharp's threads) while
 * the signatures verify. The evidence is not signed, so a refusal for it is the request's, not the
 * signup's: it is audited under the signup's digest but never stored as its decision, and the same signup
 * resent with the right evidence is decided normally. (A resend must carry its evidence too.)
 *
 * A correctly signed signup gets one decision, stored under its digest, so resending it returns the same
 * answer (the same receipt) without deciding again. The 1:N search (in its worker threads) and the frame
 * signatures (on the thread pool) start as soon as the envelope parses and run beside the checks above.
 * Decisions are taken one at a time: the policy (signup-policy.ts), the search's answer plus a search of
 * whatever was enrolled since it began, then in one transaction the session nonce (consumed), the device
 * counter (strictly increasing), and for a new person the group insertion, the encrypted templates, the
 * signed receipt, the decision and its audit entry. Devices learn accept or a reason code, never a distance.
 */
import { createHash } from 'node:crypto';
import { type ErrorCode, IrisgateError } from '../protocol/errors.ts';
import { verifySignature } from '../protocol/signature.ts';
import {
  parseSignedSignup,
  type SignedSignup,
  type SignupEnvelope,
  signupDigest,
  signupSigningBytes,
} from '../protocol/signup-envelope.ts';
import { type ReceiptJson, receiptSigningBytes, receiptToJson } from '../protocol/signup-receipt.ts';
import { appendAuditWithin } from './audit-log.ts';
import type { ReceiptSigner } from './backend-secrets.ts';
import type { ActiveDevice } from './device-directory.ts';
import { advanceCounter } from './device-registry.ts';
import {
  type HashedEvidenceFrame,
  hashFrameEvidence,
  matchFrameEvidence,
  splitSignupEvidence,
} from './frame-evidence.ts';
import type { SemaphoreGroupStore } from './semaphore-group.ts';
import { consumeNonce } from './session-nonces.ts';
import { checkSignupPolicy, type SignupPolicy, verifyFrameSignatures } from './signup-policy.ts';
import type { Database, Sql } from './storage/database.ts';
import type { Duplicate, UniquenessIndex } from './uniqueness-index.ts';

export type SignupDecision =
  | { accepted: true; receipt: ReceiptJson; warnings: string[] }
  | { accepted: false; code: ErrorCode; message: string };

export interface SignupOutcome {
  decision: SignupDecision;
  /** True when the answer is an earlier decision on the same signup. */
  replayed: boolean;
  /** Time spent in the 1:N search. */
  searchMs: number;
}

interface EarlySearch {
  /** The gallery size when the search began: it saw the eyes enrolled before this position. */
  from: number;
  result: Promise<{ duplicate: Duplicate | undefined; searchMs: number }>;
}

export interface SignupGateOptions {
  db: Database;
  group: SemaphoreGroupStore;
  index: UniquenessIndex;
  policy: SignupPolicy;
  receiptSigner: ReceiptSigner;
  clock?: () => number;
}

function rejection(error: IrisgateError): SignupDecision {
  return { accepted: false, code: error.code, message: error.message };
}

export class SignupGate {
  readonly #options: SignupGateOptions;
  readonly #clock: () => number;
  /** Decisions are taken one at a time (the tail of the queue). */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: SignupGateOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  /**
   * Decides a signup sent with a token of `sender`, a device found active when the request came in.
   * Throws only on internal failures.
   */
  async submit(sender: ActiveDevice, body: unknown): Promise<SignupOutcome> {
    const tokenDeviceId = sender.device.deviceId;
    let signup: SignedSignup;
    let digest: Uint8Array;
    let frames: Promise<void>;
    let search: EarlySearch;
    let evidence: Promise<HashedEvidenceFrame[]>;
    try {
      const { signed, evidence: evidenceJson } = splitSignupEvidence(body);
      signup = parseSignedSignup(signed);
      // Started now, judged later: the search threads search, the thread pool verifies the frame
      // signatures and sharp decodes the evidence while the envelope signature verifies here. None of
      // their answers counts unless it does.
      search = this.#startSearch(signup.envelope);
      frames = verifyFrameSignatures(signup.envelope, sender.key('attestation'));
      evidence = hashFrameEvidence(evidenceJson);
      digest = await this.#authenticate(sender, signup);
    } catch (error) {
      if (!(error instanceof IrisgateError)) throw error;
      const digest = createHash('sha256')
        .update(JSON.stringify(body) ?? '')
        .digest();
      return this.#refuseRequest(tokenDeviceId, error, digest);
    }
    try {
      matchFrameEvidence(signup.envelope, await evidence, this.#options.policy.minEvidenceFrames);
    } catch (error) {
      if (!(error instanceof IrisgateError)) throw error;
      // Under the signup's digest in the audit log, but not in signup_decisions: see the module comment.
      return this.#refuseRequest(tokenDeviceId, error, digest);
    }
    return this.#serially(() => this.#decide(signup, digest, frames, search));
  }

  /** Refuses a request without deciding its signup: audited, nothing else recorded. */
  async #refuseRequest(deviceId: string, error: IrisgateError, digest: Uint8Array): Promise<SignupOutcome> {
    await this.#options.db.transaction((sql) =>
      appendAuditWithin(
        sql,
        { deviceId, outcome: 'rejected', reason: error.code, signupDigest: digest },
        this.#clock(),
      ),
    );
    return { decision: rejection(error), replayed: false, searchMs: 0 };
  }

  /** A search of the gallery as it is now; #decide searches what was enrolled after it. */
  #startSearch(envelope: SignupEnvelope): EarlySearch {
    const { index } = this.#options;
    const from = index.size;
    const started = performance.now();
    const result = index
      .findDuplicate(envelope.eyes)
      .then((duplicate) => ({ duplicate, searchMs: performance.now() - started }));
    result.catch(() => {});
    return { from, result };
  }

  /** Checks who signed the signup; returns its digest (SHA-256 of the signed bytes). */
  async #authenticate(sender: ActiveDevice, { envelope, signature }: SignedSignup): Promise<Uint8Array> {
    if (envelope.deviceId !== sender.device.deviceId) {
      throw new IrisgateError(
        'device_mismatch',
        `the token is device ${sender.device.deviceId}'s, the signup names ${envelope.deviceId}`,
      );
    }
    const key = sender.key('iris-code');
    const signed = signupSigningBytes(envelope);
    await verifySignature(key.algorithm, key.publicKey, signed, signature);
    return signupDigest(signed);
  }

  #serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #decide(
    { envelope }: SignedSignup,
    digest: Uint8Array,
    frames: Promise<void>,
    search: EarlySearch,
  ): Promise<SignupOutcome> {
    const { db, group, index, policy, receiptSigner } = this.#options;
    const earlier = await storedDecision(db, digest);
    if (earlier) return { decision: earlier, replayed: true, searchMs: 0 };
    const now = this.#clock();
    let searchMs = 0;
    const reject = async (error: IrisgateError, sql?: Sql) => {
      const record = (tx: Sql) => recordDecision(tx, envelope.deviceId, digest, rejection(error), now);
      await (sql ? record(sql) : db.transaction(record));
      return { decision: rejection(error), replayed: false, searchMs };
    };
    let warnings: string[];
    try {
      ({ warnings } = await checkSignupPolicy(envelope, policy, frames, now));
    } catch (error) {
      if (!(error instanceof IrisgateError)) throw error;
      return reject(error);
    }
    // The early search saw the gallery up to `from`; decisions are taken one at a time, so searching what
    // was enrolled since covers everything, and the gallery cannot change again before this one commits.
    // No lock is held while the threads search.
    const early = await search.result;
    let duplicate = early.duplicate;
    searchMs = early.searchMs;
    if (!duplicate && index.size > search.from) {
      const started = performance.now();
      duplicate = await index.findDuplicate(envelope.eyes, { from: search.from });
      searchMs += performance.now() - started;
    }
    let commitTemplates: (() => void) | undefined;
    try {
      const outcome = await group.transaction(async (sql, addMember) => {
        await consumeNonce(sql, envelope.sessionNonce, envelope.deviceId, {
          now,
          signedAtMs: envelope.deviceTimeMs,
          maxSkewMs: policy.maxClockSkewMs,
          maxDeliveryDelayMs: policy.maxDeliveryDelayMs,
        });
        await advanceCounter(sql, envelope.deviceId, envelope.counter);
        if (duplicate) return reject(new IrisgateError('duplicate_identity'), sql);
        if (group.has(envelope.identityCommitment))
          return reject(new IrisgateError('duplicate_commitment'), sql);
        const member = await addMember(envelope.identityCommitment, now);
        ({ commit: commitTemplates } = await index.store(sql, member.index, envelope.eyes));
        const receipt = {
          version: 1 as const,
          deviceId: envelope.deviceId,
          signupDigest: digest,
          identityCommitment: envelope.identityCommitment,
          memberIndex: member.index,
          root: member.root,
          acceptedAtMs: now,
        };
        const decision: SignupDecision = {
          accepted: true,
          receipt: receiptToJson({ receipt, signature: receiptSigner.sign(receiptSigningBytes(receipt)) }),
          warnings,
        };
        await recordDecision(sql, envelope.deviceId, digest, decision, now);
        return { decision, replayed: false, searchMs };
      });
      commitTemplates?.();
      return outcome;
    } catch (error) {
      if (!(error instanceof IrisgateError)) throw error;
      return reject(error);
    }
  }
}

async function storedDecision(sql: Sql, digest: Uint8Array): Promise<SignupDecision | undefined> {
  const [row] = await sql.query<{
    outcome: string;
    reason: string;
    receipt: string | null;
    warnings: string;
  }>('select outcome, reason, receipt from signup_decisions where signup_digest = $1', [digest]);
  if (!row) return undefined;
  if (row.outcome === 'accepted') {
    const { receipt, warnings } = JSON.parse(row.receipt as string) as {
      receipt: ReceiptJson;
      warnings: string[];
    };
    return { accepted: true, receipt, warnings };
  }
  const code = row.reason as ErrorCode;
  return rejection(new IrisgateError(code));
}

/** Stores the decision under the signup's digest and appends it to the audit log, in the caller's transaction. */
async function recordDecision(
  sql: Sql,
  deviceId: string,
  digest: Uint8Array,
  decision: SignupDecision,
  now: number,
): Promise<void> {
  const reason = decision.accepted ? 'ok' : decision.code;
  const stored = decision.accepted
    ? JSON.stringify({ receipt: decision.receipt, warnings: decision.warnings })
    : null;
  await sql.query(
    `insert into signup_decisions (signup_digest, device_id, outcome, reason, receipt, decided_at_ms)
     values ($1, $2, $3, $4, $5, $6)`,
    [digest, deviceId, decision.accepted ? 'accepted' : 'rejected', reason, stored, now],
  );
  await appendAuditWithin(
    sql,
    { deviceId, outcome: decision.accepted ? 'accepted' : 'rejected', reason, signupDigest: digest },
    now,
  );
}
