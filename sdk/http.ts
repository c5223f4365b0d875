/**
 * GET requests to the backend's public routes (protocol/backend-http.ts): every failure is an
 * IrisgateError, the backend's own `{code, message}` when it answered one, and `backend_unreachable` when
 * it did not answer or its reply is not the backend's (not JSON, an HTTP error without an Irisgate code, a
 * body of another shape).
 */
import { backendRequest, DEFAULT_TIMEOUT_MS } from '../protocol/backend-http.ts';
import { IrisgateError } from '../protocol/errors.ts';

export { DEFAULT_TIMEOUT_MS };

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
  const json = await backendRequest('GET', url, { timeoutMs });
  if (json === undefined) throw notOurs(url, 'a reply without a JSON body');
  return json;
}

/** A reply that is not the backend's: the URL is probably not an Irisgate backend (or not this version). */
export function notOurs(url: string, why: string): IrisgateError {
  return new IrisgateError(
    'backend_unreachable',
    `GET ${url}: the reply is not an Irisgate backend's: ${why}`,
  );
}
