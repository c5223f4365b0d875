/**
 * The HTTP status each error code answers with: 401/403 who is asking, 409 a conflict with what is already
 * recorded, 422 a well-formed signup the policy refuses, 429 limits; codes not listed are 400.
 */
import type { ErrorCode } from '../../protocol/errors.ts';

const STATUS: Partial<Record<ErrorCode, number>> = {
  unauthorized: 401,
  missing_token: 401,
  invalid_token: 401,
  expired_token: 401,
  invalid_challenge: 401,
  invalid_signature: 401,
  revoked_device: 403,
  device_mismatch: 403,
  development_key: 403,
  untrusted_certificate: 403,
  certificate_expired: 403,
  unknown_device: 404,
  not_found: 404,
  not_a_member: 404,
  device_exists: 409,
  duplicate_identity: 409,
  duplicate_commitment: 409,
  replayed_nonce: 409,
  replayed_counter: 409,
  unknown_nonce: 422,
  foreign_nonce: 422,
  expired_nonce: 422,
  stale_timestamp: 422,
  model_not_allowed: 422,
  missing_model: 422,
  blocked_version: 422,
  insufficient_liveness_evidence: 422,
  invalid_liveness_evidence: 422,
  liveness_failed: 422,
  invalid_frame_signature: 422,
  frame_evidence_mismatch: 422,
  malformed_evidence: 400,
  too_few_usable_bits: 422,
  body_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  device_budget_exhausted: 429,
  group_full: 503,
  not_ready: 503,
  internal_error: 500,
  group_integrity: 500,
};

export function httpStatus(code: ErrorCode): number {
  return STATUS[code] ?? 400;
}
