/**
 * One request to an Irisgate backend, as the device agent and the SDK make them: every failure is an
 * IrisgateError, the backend's own `{code, message}` when it answered one, and `backend_unreachable` when it
 * did not answer (refused connection, timeout) or answered an HTTP error without an Irisgate code.
 */
import { ERROR_CODES, type ErrorCode, IrisgateError } from './errors.ts';

export const DEFAULT_TIMEOUT_MS = 15_000;

export interface BackendRequest {
  body?: unknown;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  signal?: AbortSignal;
  /** Per request (default 15 s). */
  timeoutMs?: number;
}

/** The reply's JSON (undefined when it has no JSON body) of a 2xx answer; throws otherwise, as above. */
export async function backendRequest(
  method: 'GET' | 'POST',
  url: string,
  { body, token, signal, timeoutMs = DEFAULT_TIMEOUT_MS }: BackendRequest = {},
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])]),
    });
  } catch (cause) {
    const why = cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : '';
    throw new IrisgateError('backend_unreachable', `${method} ${url}: ${why}`, { cause });
  }
  const text = await response.text().catch(() => '');
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.ok) return json;
  const refusal = json as { code?: unknown; message?: unknown } | undefined;
  if (typeof refusal?.code === 'string' && refusal.code in ERROR_CODES) {
    throw new IrisgateError(refusal.code as ErrorCode, String(refusal.message ?? refusal.code));
  }
  throw new IrisgateError(
    'backend_unreachable',
    `${method} ${url}: HTTP ${response.status} without an Irisgate error (${text.slice(0, 120)})`,
  );
}
