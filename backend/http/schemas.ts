/**
 * The JSON schemas (TypeBox) of every route: they validate requests before a handler runs and are what
 * /docs publishes. The signup schema describes the shape; protocol/signup-envelope.ts stays the authority
 * on meaning (canonical values, ranges, order) and re-checks everything.
 */
import { Type } from 'typebox';
import { SIGNUP_LIMITS } from '../../protocol/signup-envelope.ts';
import { PROOF_LIMITS } from '../../protocol/uniqueness-proof.ts';
import { BASE64_PATTERN, MAX_EVIDENCE_FRAMES, MAX_EVIDENCE_PNG_BASE64 } from '../frame-evidence.ts';

const hex = (bytes: number, description: string) =>
  Type.String({ pattern: `^[0-9a-f]{${2 * bytes}}$`, description });
const uint = (description?: string) =>
  Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description });
const decimal = (description: string) => Type.String({ pattern: '^(0|[1-9][0-9]{0,76})$', description });

export const DeviceIdParam = Type.Object({
  deviceId: Type.String({
    pattern: '^[A-Za-z0-9._-]{1,64}$',
    description: 'the CN of the device certificate',
  }),
});

export const ErrorReply = Type.Object(
  { code: Type.String({ description: 'stable error code (protocol/errors.ts)' }), message: Type.String() },
  { $id: 'ErrorReply' },
);

/** The error replies every route documents (ErrorReply, registered by the app). */
export const ERROR_REPLIES = { '4xx': { $ref: 'ErrorReply#' }, '5xx': { $ref: 'ErrorReply#' } } as const;

export const ChallengeReply = Type.Object({
  audience: Type.String({ description: "this backend's name, part of what the device signs" }),
  challenge: hex(32, 'random challenge'),
  issuedAtMs: uint(),
  expiresAtMs: uint(),
});

export const TokenRequest = Type.Object(
  {
    challenge: hex(32, 'the challenge being answered'),
    signature: hex(64, 'r||s over deviceAuthSigningBytes with the attestation key'),
  },
  { additionalProperties: false },
);

export const TokenReply = Type.Object({ token: Type.String(), expiresAtMs: uint() });

export const SessionReply = Type.Object({ nonce: hex(32, 'single-use session nonce'), expiresAtMs: uint() });

const WireTemplate = Type.Object({
  iris_codes: Type.String({ maxLength: 4096 }),
  mask_codes: Type.String({ maxLength: 4096 }),
  iris_code_version: Type.Literal('v0.1'),
});

export const SignupRequest = Type.Object(
  {
    envelope: Type.Object(
      {
        version: Type.Integer(),
        deviceId: Type.String({ maxLength: 64 }),
        sessionNonce: hex(32, 'the nonce from POST /v1/sessions'),
        counter: uint('per-device, strictly increasing'),
        deviceTimeMs: uint(),
        identityCommitment: decimal('the Semaphore identity commitment'),
        eyes: Type.Array(
          Type.Object({
            side: Type.Union([Type.Literal('left'), Type.Literal('right')]),
            template: WireTemplate,
          }),
          { minItems: 1, maxItems: 2 },
        ),
        liveness: Type.Object({
          scores: Type.Record(Type.String({ maxLength: SIGNUP_LIMITS.maxNameLength }), Type.Number(), {
            maxProperties: SIGNUP_LIMITS.maxScores,
          }),
          stimulus: Type.Array(
            Type.Object(
              { startMs: uint(), durationMs: uint(), level: Type.Number() },
              { additionalProperties: false },
            ),
            { maxItems: SIGNUP_LIMITS.maxStimulusPulses },
          ),
          frames: Type.Array(
            Type.Object(
              {
                sequence: uint(),
                capturedAtMs: uint(),
                sha256: hex(32, 'SHA-256 of the frame'),
                signature: hex(64, 'attestation key over frameSigningBytes'),
                pupilRadiusPx: Type.Number(),
              },
              { additionalProperties: false },
            ),
            { maxItems: SIGNUP_LIMITS.maxFrames },
          ),
        }),
        models: Type.Array(
          Type.Object({
            name: Type.String({ maxLength: SIGNUP_LIMITS.maxNameLength }),
            sha256: hex(32, 'model file'),
          }),
          { minItems: 1, maxItems: SIGNUP_LIMITS.maxModels },
        ),
        softwareVersion: Type.String({ maxLength: SIGNUP_LIMITS.maxSoftwareVersionLength }),
      },
      { additionalProperties: false },
    ),
    signature: hex(64, 'r||s over signupSigningBytes with the iris-code key'),
    evidence: Type.Optional(
      Type.Object(
        {
          frames: Type.Array(
            Type.Object(
              {
                sequence: Type.Integer({
                  minimum: 0,
                  maximum: 0xffff_ffff,
                  description: 'the sequence of a frame in envelope.liveness.frames',
                }),
                png: Type.String({
                  minLength: 4,
                  maxLength: MAX_EVIDENCE_PNG_BASE64,
                  pattern: BASE64_PATTERN,
                  description: "base64 of an 8-bit grey PNG of the frame's pixels, exactly as hashed",
                }),
              },
              { additionalProperties: false },
            ),
            { maxItems: MAX_EVIDENCE_FRAMES },
          ),
        },
        {
          additionalProperties: false,
          description:
            'Unsigned: the pixels of frames the iris templates were encoded from; each must hash (framePixelsSha256) to the sha256 the device signed for it. Required by the policy (minEvidenceFrames).',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ReceiptJson = Type.Object({
  version: Type.Literal(1),
  deviceId: Type.String(),
  signupDigest: hex(32, "SHA-256 of the signup's signing bytes"),
  identityCommitment: decimal('the commitment now in the group'),
  memberIndex: uint(),
  root: decimal('the group root right after this member'),
  acceptedAtMs: uint(),
  signature: hex(64, "r||s over receiptSigningBytes with the backend's receipt key"),
});

export const SignupReply = Type.Object({
  accepted: Type.Literal(true),
  receipt: ReceiptJson,
  warnings: Type.Array(Type.String()),
});

export const RootReply = Type.Object({ root: decimal('current root'), size: uint(), depth: uint() });

export const RootParam = Type.Object({ root: decimal('a group root') });

const nullable = <T extends ReturnType<typeof uint>>(schema: T) => Type.Union([schema, Type.Null()]);

export const RootStatusReply = Type.Object({
  root: decimal('the root asked about'),
  status: Type.Union(['current', 'valid', 'expired', 'unknown'].map((s) => Type.Literal(s))),
  valid: Type.Boolean({ description: 'whether a proof may use this root now' }),
  createdAtMs: nullable(uint('when the root was issued (null: unknown root)')),
  supersededAtMs: nullable(uint('when a newer root replaced it (null: current, or unknown root)')),
});

export const RootStatementReply = Type.Object(
  {
    version: Type.Literal(1),
    root: decimal('the root'),
    size: uint('members in the group at this root'),
    createdAtMs: uint('when the root was issued'),
    supersededAtMs: nullable(uint('when a newer root replaced it (null: current at statedAtMs)')),
    statedAtMs: uint('when the backend made this statement'),
    signature: hex(64, "r||s over rootStatementSigningBytes with the backend's receipt key"),
  },
  {
    description:
      "The backend's signed word on a root (protocol/root-statement.ts): an app that pins the receipt key (GET /v1/info) checks a proof's root offline with it.",
  },
);

export const CommitmentParam = Type.Object({ commitment: decimal('an identity commitment') });

export const InclusionProofReply = Type.Object({
  root: decimal('current root'),
  leaf: decimal('the commitment'),
  index: uint(),
  siblings: Type.Array(decimal('sibling node')),
  depth: uint('the depth of the group tree'),
  rootStatement: RootStatementReply,
});

export const AppIdParam = Type.Object({
  appId: Type.String({
    description: `the app's id: 1 to ${PROOF_LIMITS.maxAppIdLength} letters, digits and _ . : -`,
  }),
});

export const ActionRequest = Type.Object(
  {
    action: Type.String({ description: 'the action, as the app names it in its proofs (scope)' }),
    maxVerifications: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 2 ** 31 - 1,
        default: 1,
        description: 'how many times one person may verify for this action (default 1)',
      }),
    ),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);

export const ActionReply = Type.Object({
  appId: Type.String(),
  action: Type.String(),
  maxVerifications: uint(),
  description: Type.Union([Type.String(), Type.Null()]),
  createdAtMs: uint(),
});

/** The proof's shape, for the docs; protocol parseUniquenessProof is the authority on its values. */
const ProofJson = Type.Object(
  {
    merkleTreeDepth: Type.Integer({ description: 'the depth the proof was made at (20)' }),
    merkleTreeRoot: Type.String({ description: 'decimal: a root of the group' }),
    nullifier: Type.String({ description: 'decimal: the person for this app and action' }),
    message: Type.String({ description: 'decimal: signalHash(signal)' }),
    scope: Type.String({ description: 'decimal: externalNullifier(appId, action)' }),
    points: Type.Array(Type.String(), { description: 'the Groth16 proof: 8 decimal strings' }),
  },
  { description: 'a Semaphore v4 proof (protocol/uniqueness-proof.ts)' },
);

export const VerifyRequest = Type.Object(
  {
    proof: ProofJson,
    action: Type.String({ description: 'the action the proof was made for' }),
    signal: Type.Optional(
      Type.String({
        maxLength: PROOF_LIMITS.maxSignalLength,
        description: "what the proof is bound to (default '')",
      }),
    ),
    maxRootAgeSeconds: Type.Optional(
      Type.Number({
        minimum: 0,
        description:
          "how long ago the proof's root may have been replaced; at most (and by default) the backend's root expiry",
      }),
    ),
  },
  { additionalProperties: false },
);

export const VerifyReply = Type.Object({
  success: Type.Literal(true),
  appId: Type.String(),
  action: Type.String(),
  nullifier: Type.String({ description: 'decimal: the same for one person, app and action' }),
  merkleRoot: Type.String(),
  uses: uint("this nullifier's uses of the action, this one included"),
  maxUses: uint('how many the action allows'),
  createdAtMs: uint('when the nullifier was first used for the action'),
});

export const CertificateRequest = Type.Object(
  { certificate: Type.String({ maxLength: 16_384, description: 'PEM' }) },
  { additionalProperties: false },
);

export const RevokeRequest = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);

export const DeviceReply = Type.Object({
  deviceId: Type.String(),
  certificateSerial: Type.String(),
  development: Type.Boolean(),
  registeredAtMs: uint(),
  revokedAtMs: Type.Union([uint(), Type.Null()]),
  revokedReason: Type.Union([Type.String(), Type.Null()]),
});

export const TrustedCaReply = Type.Object({
  fingerprint: Type.String(),
  subject: Type.String(),
  addedAtMs: uint(),
});

export const AuditReply = Type.Object({ entries: uint(), head: hex(32, 'hash of the last entry') });

export const InfoReply = Type.Object({
  audience: Type.String(),
  mode: Type.Union([Type.Literal('production'), Type.Literal('development')]),
  receiptKey: Type.Object({ algorithm: Type.String(), publicKey: Type.String(), keyId: Type.String() }),
  treeDepth: uint(),
  rootExpiryMs: uint(),
});
