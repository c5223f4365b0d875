/**
 * The device agent's configuration: a JSON file (`irisgate device run --config FILE`), every field
 * optional, relative paths resolved against the file's folder. The defaults (DEFAULT_AGENT_CONFIG) are
 * what device/README.md documents; device/irisgate-device.example.json holds them as a file to copy.
 * The token PIN is never in the file: IRISGATE_HSM_PIN, or `pinFile`.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { IrisgateError } from '../protocol/errors.ts';
import type { EyeSide } from '../protocol/signup-envelope.ts';

export interface AgentConfig {
  /** The backend's base URL. */
  backendUrl: string;
  /** The provisioned device profile (`irisgate hsm init`): device.json, certificate, CA certificate. */
  deviceDir: string;
  /** A file holding the token PIN (else IRISGATE_HSM_PIN; none for the development signer). */
  pinFile?: string;
  /** The outbox and the signup counter. Keep it on persistent storage. */
  stateDir: string;
  /** "synthetic" (no hardware), /dev/videoN (V4L2 via ffmpeg), lavfi:<graph>, a folder or a video file. */
  camera: string;
  width: number;
  height: number;
  fps: number;
  /** V4L2 input format (ffmpeg -input_format: mjpeg, yuyv422, gray, ...). */
  pixelFormat?: string;
  /** The IR LED's class device folder, e.g. /sys/class/leds/ir (none: the synthetic camera simulates it). */
  led?: string;
  /** Which eye the camera films. */
  eye: EyeSide;
  /** Frames fused into the template. */
  fusedFrames: number;
  /** Worker threads that segment and gate frames during a capture (the loop itself signs them). */
  measureThreads: number;
  /** How long a session looks for the user's QR code. */
  identityTimeoutMs: number;
  /** Per HTTP request to the backend. */
  requestTimeoutMs: number;
  /**
   * How long delivered and refused signups stay in the outbox (they hold an iris template and an eye
   * image); pending ones stay until the backend answers.
   */
  keepFinishedHours: number;
}

export const DEFAULT_AGENT_CONFIG: AgentConfig = {
  backendUrl: 'http://127.0.0.1:8620',
  deviceDir: '.irisgate/device',
  stateDir: '.irisgate/device-state',
  camera: 'synthetic',
  width: 640,
  height: 480,
  fps: 10,
  eye: 'left',
  fusedFrames: 3,
  measureThreads: 2,
  identityTimeoutMs: 30_000,
  requestTimeoutMs: 15_000,
  keepFinishedHours: 24,
};

const invalid = (file: string, why: string) => new IrisgateError('invalid_argument', `${file}: ${why}`);

function check(config: AgentConfig, file: string): AgentConfig {
  const positiveInteger = (name: keyof AgentConfig, max: number) => {
    const value = config[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
      throw invalid(file, `${name} must be an integer in [1, ${max}]`);
    }
  };
  for (const name of ['backendUrl', 'deviceDir', 'stateDir', 'camera'] as const) {
    if (typeof config[name] !== 'string' || config[name] === '')
      throw invalid(file, `${name} must be a string`);
  }
  if (!/^https?:\/\//.test(config.backendUrl)) throw invalid(file, 'backendUrl must be an http(s) URL');
  positiveInteger('width', 4096);
  positiveInteger('height', 4096);
  positiveInteger('fps', 120);
  positiveInteger('fusedFrames', 9);
  positiveInteger('measureThreads', 16);
  positiveInteger('identityTimeoutMs', 3_600_000);
  positiveInteger('requestTimeoutMs', 600_000);
  positiveInteger('keepFinishedHours', 24 * 365);
  if (config.eye !== 'left' && config.eye !== 'right') throw invalid(file, 'eye must be "left" or "right"');
  for (const name of ['pinFile', 'pixelFormat', 'led'] as const) {
    const value = config[name];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw invalid(file, `${name} must be a non-empty string when given`);
    }
  }
  return config;
}

/** The defaults, overridden by the file's fields (when a file is given), then by `overrides`. */
export function loadAgentConfig(file?: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  if (!file) return check({ ...DEFAULT_AGENT_CONFIG, ...overrides }, 'configuration');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new IrisgateError('invalid_argument', `${file}: ${(cause as Error).message}`, { cause });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw invalid(file, 'not a JSON object');
  const unknown = Object.keys(json).filter(
    (key) => !(key in DEFAULT_AGENT_CONFIG) && !['pinFile', 'pixelFormat', 'led'].includes(key),
  );
  if (unknown.length > 0) throw invalid(file, `unknown field ${unknown.join(', ')}`);
  const merged = check({ ...DEFAULT_AGENT_CONFIG, ...(json as Partial<AgentConfig>), ...overrides }, file);
  const base = dirname(resolve(file));
  for (const key of ['deviceDir', 'stateDir', 'pinFile', 'led'] as const) {
    const value = merged[key];
    if (typeof value === 'string' && !(key in overrides)) merged[key] = resolve(base, value);
  }
  return merged;
}

/** The token PIN: the pinFile's first line, else IRISGATE_HSM_PIN (as for `irisgate hsm`), else none. */
export function agentPin(config: AgentConfig): string | undefined {
  if (!config.pinFile) return process.env.IRISGATE_HSM_PIN || undefined;
  try {
    return readFileSync(config.pinFile, 'utf8').split('\n')[0]?.trim();
  } catch (cause) {
    throw new IrisgateError('invalid_argument', `pinFile ${config.pinFile}: ${(cause as Error).message}`, {
      cause,
    });
  }
}
