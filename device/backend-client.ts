/**
 * The device's side of the backend's device routes over HTTP: authentication (the backend's challenge
 * signed with the attestation key, answered with a short-lived token), session nonces, and signup
 * submission for the outbox.
 *
 * Every failure is an IrisgateError: the backend's own `{code, message}` when it answered one, and
 * `backend_unreachable` when it did not answer (refused connection, timeout, a reply that is not ours).
 * A token the backend no longer accepts (expired, or the backend restarted with a new secret) is renewed
 * once, transparently.
 */
import type { Signer } from '../hsm/signer.ts';
import { backendRequest, DEFAULT_TIMEOUT_MS } from '../protocol/backend-http.ts';
import { fromHex, toHex } from '../protocol/bytes.ts';
import { deviceAuthSigningBytes } from '../protocol/device-messages.ts';
import { type ErrorCode, IrisgateError } from '../protocol/errors.ts';
import type { DeliveryOutcome } from './outbox.ts';

export interface BackendClientOptions {
  /** e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  deviceId: string;
  attestation: Signer;
  /** Per request (default 15 s; a signup waits for the uniqueness search). */
  timeoutMs?: number;
}

/** Refusals that are worth sending again later: the backend is busy, starting or rate-limiting. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set([
  'rate_limited',
  'device_budget_exhausted',
  'not_ready',
  'backend_unreachable',
  'internal_error',
]);
const TOKEN_REFUSED: ReadonlySet<ErrorCode> = new Set(['invalid_token', 'expired_token', 'missing_token']);
/** Renew a token this long before the backend says it expires. */
const TOKEN_MARGIN_MS = 30_000;

/** Whether the backend at this URL is up and ready (GET /readyz answers 200); never throws. */
export async function backendReady(baseUrl: string, timeoutMs = 3000): Promise<boolean> {
  try {
    const reply = await fetch(`${baseUrl.replace(/\/+$/, '')}/readyz`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return reply.ok;
  } catch {
    return false;
  }
}

export class BackendClient {
  readonly baseUrl: string;
  readonly #options: BackendClientOptions;
  #token: { value: string; expiresAtMs: number } | undefined;

  constructor(options: BackendClientOptions) {
    this.#options = options;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /** A signed challenge for a fresh device token. */
  async authenticate(): Promise<void> {
    const { deviceId, attestation } = this.#options;
    const path = `/v1/devices/${encodeURIComponent(deviceId)}`;
    const challenge = (await this.#request('POST', `${path}/challenge`)) as {
      audience: string;
      challenge: string;
      issuedAtMs: number;
    };
    const signature = await attestation.sign(
      deviceAuthSigningBytes({
        audience: challenge.audience,
        deviceId,
        challenge: fromHex(challenge.challenge),
        issuedAtMs: challenge.issuedAtMs,
      }),
    );
    const token = (await this.#request('POST', `${path}/token`, {
      body: { challenge: challenge.challenge, signature: toHex(signature) },
    })) as { token: string; expiresAtMs: number };
    this.#token = { value: token.token, expiresAtMs: token.expiresAtMs };
  }

  /** A single-use session nonce for the next capture. */
  async sessionNonce(): Promise<{ nonce: Uint8Array; expiresAtMs: number }> {
    const reply = (await this.#authenticated('POST', '/v1/sessions')) as {
      nonce: string;
      expiresAtMs: number;
    };
    return { nonce: fromHex(reply.nonce), expiresAtMs: reply.expiresAtMs };
  }

  /**
   * Sends a signed signup; the outcome the outbox files it under (final, or to be retried). `signal`
   * abandons the request (the agent is stopping): it is then retried later, like an unanswered one.
   */
  async submitSignup(body: unknown, signal?: AbortSignal): Promise<DeliveryOutcome> {
    try {
      return { kind: 'delivered', reply: await this.#authenticated('POST', '/v1/signups', body, signal) };
    } catch (error) {
      if (!(error instanceof IrisgateError)) throw error;
      if (TRANSIENT.has(error.code) || TOKEN_REFUSED.has(error.code)) {
        return { kind: 'retry', reason: `${error.code}: ${error.message}` };
      }
      return { kind: 'rejected', code: error.code, message: error.message };
    }
  }

  async #authenticated(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      if (!this.#token || this.#token.expiresAtMs - TOKEN_MARGIN_MS < Date.now()) await this.authenticate();
      try {
        return await this.#request(method, path, { body, token: this.#token?.value, signal });
      } catch (error) {
        if (attempt > 0 || !(error instanceof IrisgateError) || !TOKEN_REFUSED.has(error.code)) throw error;
        this.#token = undefined;
      }
    }
  }

  async #request(
    method: 'GET' | 'POST',
    path: string,
    { body, token, signal }: { body?: unknown; token?: string; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    return backendRequest(method, `${this.baseUrl}${path}`, {
      body,
      token,
      signal,
      timeoutMs: this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
  }
}
