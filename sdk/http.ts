/**
 * GET requests to the backend's public routes, with device/backend-client.ts's conventions: every failure
 * is an IrisgateError, the backend's own `{code, message}` when it answered one, and `backend_unreachable`
 * when it did not answer (refused connection, timeout) or its reply is not the backend's (not JSON, an HTTP
 * error without an Irisgate code, a body of another shape).
 */
import { ERROR_CODES, type ErrorCode, IrisgateError } from '../protocol/errors.ts';

/** The default per-request time limit. */
export const DEFAULT_TIMEOUT_MS = 15_000;

export interface BackendRequestOptions {
  /** Per request (default 15 s). */
  timeoutMs?: number;
}

export function backendBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new IrisgateError('invalid_argument', `${url} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new IrisgateError('invalid_argument', `${url} is not an http(s) URL`);
  }
  return url.replace(/\/+$/, '');
}

/** The JSON of `GET baseUrl + path`; throws the backend's refusal or backend_unreachable. */
export async function getBackendJson(
  baseUrl: string,
  path: string,
  { timeoutMs = DEFAULT_TIMEOUT_MS }: BackendRequestOptions = {},
): Promise<unknown> {
  const url = `${backendBaseUrl(baseUrl)}${path}`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (cause) {
    const why = cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : '';
    throw new IrisgateError('backend_unreachable', `GET ${url}: ${why}`, { cause });
  }
  const text = await response.text().catch(() => '');
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.ok) {
    if (json === undefined) throw notOurs(url, `HTTP ${response.status} without a JSON body`);
    return json;
  }
  const refusal = json as { code?: unknown; message?: unknown } | undefined;
  if (typeof refusal?.code === 'string' && refusal.code in ERROR_CODES) {
    throw new IrisgateError(refusal.code as ErrorCode, String(refusal.message ?? refusal.code));
  }
  throw notOurs(url, `HTTP ${response.status} without an Irisgate error (${text.slice(0, 120)})`);
}

/** A reply that is not the backend's: the URL is probably not an Irisgate backend (or not this version). */
export function notOurs(url: string, why: string): IrisgateError {
  return new IrisgateError(
    'backend_unreachable',
    `GET ${url}: the reply is not an Irisgate backend's: ${why}`,
  );
}
