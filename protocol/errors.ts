/**
 * Stable error codes shared by every part of Irisgate. A code never changes meaning once published;
 * messages are for people and may change.
 */
export const ERROR_CODES = {
  invalid_signature: 'the signature does not verify for this key and message',
  malformed_signature: 'a signature must be 64 bytes r||s with 0 < r, s < n',
  high_s_signature: 'signatures must be low-S normalised (s <= n/2)',
  malformed_public_key: 'the public key is not a valid uncompressed point on the curve',
  unsupported_algorithm: 'the signature algorithm is not supported',
  invalid_certificate: 'the certificate could not be parsed or lacks a required field',
  untrusted_certificate: 'the certificate does not chain to the trusted manufacturer CA',
  certificate_expired: 'the certificate is outside its validity period',
  development_key: 'the key is a development (software) key, refused in production mode',
  malformed_attestation: 'the TPM attestation structure could not be parsed',
  wrong_attestation_type: 'the TPM attestation is not of the expected type',
  nonce_mismatch: 'the attestation does not carry the expected nonce',
  pcr_mismatch: 'the attested PCR values differ from the expected values',
  key_not_in_tpm:
    'the certified key is not a TPM-resident, non-duplicable key matching the claimed public key',
  hsm_unavailable: 'the PKCS#11 module or token could not be opened',
  hsm_login_failed: 'the token refused the PIN',
  key_not_found: 'no key with this label exists on the token',
  key_exists: 'a key with this label already exists on the token',
  template_key_invalid: 'the wrapped template key does not decrypt under the token key',
  tpm_command_failed: 'a tpm2-tools command failed',
  model_hash_mismatch: 'the model file does not match the sha256 listed in models/manifest.json',
  unreadable_image: 'the image could not be read or decoded',
  unsupported_image_format: 'the image is not a PNG or JPEG',
  wrong_image_size: 'the image is not a 640 x 480 frame',
  image_too_large: 'the image file is larger than any frame can be',
  camera_unavailable: 'the camera could not be opened or stopped with an error (ffmpeg, device, file)',
  invalid_identity_qr: 'the QR code does not hold an identity commitment (irisgate:commitment:v1:<decimal>)',
  malformed_envelope: 'the signup envelope does not follow the protocol',
  unsupported_envelope_version: 'the signup envelope version is not supported',
  audit_chain_broken: 'the audit log hash chain does not verify',
  unknown_device: 'no device with this id is registered',
  revoked_device: 'the device has been revoked',
  device_exists: 'a device with this id is registered with another certificate',
  unknown_nonce: 'the session nonce was never issued',
  foreign_nonce: 'the session nonce was issued to another device',
  expired_nonce: 'the session nonce has expired',
  replayed_nonce: 'the session nonce was already used',
  duplicate_commitment: 'the identity commitment is already a member of the group',
  group_full: 'the Semaphore group holds as many members as its depth allows',
  group_integrity: 'the stored group members do not give the recorded root',
  not_a_member: 'the identity commitment is not a member of the group',
  malformed_request: "the request does not follow the route's schema",
  body_too_large: 'the request body is larger than the route accepts',
  unsupported_media_type: 'the request body must be application/json',
  not_found: 'no such route or resource',
  unauthorized: 'this route needs the operator credential',
  missing_token: 'this route needs a device token (Authorization: Bearer ...)',
  invalid_token: 'the device token is not one this backend issued',
  expired_token: 'the device token has expired',
  invalid_challenge: 'the challenge was not issued to this device, has expired or was already answered',
  device_mismatch: 'the signup names another device than the token',
  replayed_counter: 'the signup counter is not greater than the last one this device used',
  stale_timestamp: 'the device time is too far from the backend time',
  model_not_allowed: "a model hash is not on the backend's allow-list",
  missing_model: 'a model the backend requires is not listed',
  blocked_version: 'this device software version is blocked',
  insufficient_liveness_evidence: 'the liveness evidence lacks frames or scores the policy requires',
  invalid_liveness_evidence: 'the liveness evidence is inconsistent (frame times, stimulus)',
  liveness_failed: 'a liveness score is below the policy threshold',
  invalid_frame_signature: 'a frame signature does not verify over the frame chain',
  frame_evidence_mismatch: "a frame's pixels do not hash to the frame hash the device signed",
  malformed_evidence:
    'the frame evidence is not decodable 8-bit grey PNGs of distinct frames of the signup, within its limits',
  duplicate_identity: 'this person is already enrolled',
  rate_limited: 'too many requests; retry later',
  device_budget_exhausted: 'this device has used its signup attempts for this hour',
  not_ready: 'the backend is starting or its database is unreachable',
  database_in_use: 'another process has this PGlite data folder open',
  backend_unreachable: 'the backend did not answer at this URL',
  outbox_read_only: 'the device outbox is open read-only',
  outbox_busy: 'the device outbox already has a sender running',
  outbox_corrupt: 'a device outbox record does not parse',
  invalid_argument: 'a command-line argument or input file is invalid',
  invalid_template: 'the iris template is not a valid open-iris v0.1 template',
  invalid_iris_code: 'an iris code must hold 16,384 code and 16,384 mask values, each 0 or 1',
  no_eye_found: 'no eye (pupil and iris) could be found in the image',
  eye_closed: 'the eye is closed or the eyelids cover the iris',
  pupil_iris_ratio: 'the pupil to iris diameter ratio is outside the accepted range',
  pupil_iris_center_distance: 'the pupil centre is too far from the iris centre',
  iris_too_small: 'the iris diameter is below the minimum',
  off_gaze: 'the eye is looking too far away from the camera',
  occluded: 'too little of the iris is visible',
  blurred: 'the iris image is not sharp enough',
  eye_outside_image: 'an eye centre lies outside the image',
  too_few_usable_bits: 'too few usable iris code bits',
  identity_qr_not_found: "no identity QR code was seen before the capture session's timeout",
  cancelled: 'the operation was cancelled by the operator',
  invalid_format: 'the uniqueness proof or its request does not follow the format',
  invalid_proof: 'the uniqueness proof does not verify, or was made for another signal',
  invalid_merkle_root: "the proof's Merkle root is not one the backend issued",
  root_too_old: "the proof's Merkle root was replaced longer ago than the verifier accepts",
  invalid_action: 'the action is not open for this app, or the proof was made for another app or action',
  max_verifications_reached: 'this person has used this action as many times as it allows',
  invalid_root_statement: 'the root statement does not follow the format or is not signed by the backend key',
  artifact_hash_mismatch:
    'a Semaphore artifact does not match the sha256 in circuits/artifacts/manifest.json',
  internal_error: 'an unexpected internal error',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with a stable code. Everything Irisgate throws on bad input is one of these. */
export class IrisgateError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string = ERROR_CODES[code], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IrisgateError';
    this.code = code;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}
