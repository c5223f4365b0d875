/**
 * The agent's configuration (device/agent-config.ts) read from real files: the defaults, a file's values
 * over them with its relative paths resolved against its own folder, overrides over both, every refusal
 * as invalid_argument naming the file and the field, and the token PIN from a file or the environment.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AgentConfig,
  agentPin,
  DEFAULT_AGENT_CONFIG,
  loadAgentConfig,
} from '../../device/agent-config.ts';

const tempDir = () => mkdtempSync(join(tmpdir(), 'irisgate-agent-config-'));

/** A configuration file holding `content` (JSON-encoded unless it is a string), in a fresh folder. */
function configFile(content: unknown, name = 'irisgate-device.json'): string {
  const file = join(tempDir(), name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** Expects loadAgentConfig to refuse with invalid_argument and a message naming `file` and `words`. */
function expectRefused(load: () => AgentConfig, file: string, words: string | RegExp): void {
  let error: unknown;
  try {
    load();
  } catch (caught) {
    error = caught;
  }
  expect(error, 'not refused').toMatchObject({ name: 'IrisgateError', code: 'invalid_argument' });
  const message = (error as Error).message;
  expect(message.startsWith(`${file}: `), message).toBe(true);
  if (typeof words === 'string') expect(message).toContain(words);
  else expect(message).toMatch(words);
}

let savedPin: string | undefined;
beforeEach(() => {
  savedPin = process.env.IRISGATE_HSM_PIN;
  delete process.env.IRISGATE_HSM_PIN;
});
afterEach(() => {
  if (savedPin === undefined) delete process.env.IRISGATE_HSM_PIN;
  else process.env.IRISGATE_HSM_PIN = savedPin;
});

describe('loadAgentConfig', () => {
  it('gives the documented defaults without a file', () => {
    expect(loadAgentConfig()).toEqual({
      backendUrl: 'http://127.0.0.1:8620', // where `irisgate backend serve` listens by default
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
    });
    // A copy: changing it leaves the defaults alone.
    const config = loadAgentConfig();
    config.fps = 99;
    expect(DEFAULT_AGENT_CONFIG.fps).toBe(10);
  });

  it("takes a file's values over the defaults, its relative paths resolved against the file's folder", () => {
    const file = configFile({
      backendUrl: 'https://backend.example:8443',
      deviceDir: 'device',
      stateDir: '../state',
      pinFile: 'secrets/pin',
      led: '/sys/class/leds/ir',
      camera: '/dev/video2',
      pixelFormat: 'gray',
      fps: 30,
      eye: 'right',
      fusedFrames: 5,
    });
    const folder = resolve(file, '..');
    expect(loadAgentConfig(file)).toEqual({
      ...DEFAULT_AGENT_CONFIG,
      backendUrl: 'https://backend.example:8443',
      deviceDir: join(folder, 'device'),
      stateDir: resolve(folder, '../state'),
      pinFile: join(folder, 'secrets/pin'),
      led: '/sys/class/leds/ir',
      camera: '/dev/video2',
      pixelFormat: 'gray',
      fps: 30,
      eye: 'right',
      fusedFrames: 5,
    });
  });

  it("resolves the defaults' relative paths against the file's folder too, and reads an empty object", () => {
    const file = configFile({});
    const folder = resolve(file, '..');
    const config = loadAgentConfig(file);
    expect(config.deviceDir).toBe(join(folder, '.irisgate/device'));
    expect(config.stateDir).toBe(join(folder, '.irisgate/device-state'));
    expect(config.pinFile).toBeUndefined();
    expect(config.led).toBeUndefined();
  });

  it('lets overrides win over the file, and leaves their paths as given', () => {
    const file = configFile({ backendUrl: 'http://from-file:1', fps: 20, deviceDir: 'device' });
    const config = loadAgentConfig(file, { backendUrl: 'http://override:2', deviceDir: 'relative/device' });
    expect(config.backendUrl).toBe('http://override:2');
    expect(config.deviceDir).toBe('relative/device');
    expect(config.fps).toBe(20);
    expect(loadAgentConfig(undefined, { fps: 5, eye: 'right' })).toMatchObject({ fps: 5, eye: 'right' });
  });

  it('refuses an unknown field, naming it', () => {
    const file = configFile({ fps: 10, frameRate: 10, colour: 'grey' });
    expectRefused(() => loadAgentConfig(file), file, 'unknown field frameRate, colour');
  });

  it('refuses a file that is missing, not JSON, or not a JSON object', () => {
    const missing = join(tempDir(), 'missing.json');
    expectRefused(() => loadAgentConfig(missing), missing, 'ENOENT');
    const broken = configFile('{"fps": 10,');
    expectRefused(() => loadAgentConfig(broken), broken, /JSON/);
    for (const notObject of ['[]', 'null', '42', '"synthetic"']) {
      const file = configFile(notObject);
      expectRefused(() => loadAgentConfig(file), file, 'not a JSON object');
    }
  });

  it('refuses a backend URL that is not http(s)', () => {
    for (const backendUrl of ['ftp://backend', 'backend:8080', '127.0.0.1:8080', 'file:///x']) {
      const file = configFile({ backendUrl });
      expectRefused(() => loadAgentConfig(file), file, 'backendUrl must be an http(s) URL');
    }
    expectRefused(() => loadAgentConfig(undefined, { backendUrl: 'ws://x' }), 'configuration', 'backendUrl');
  });

  it('refuses a required text field that is empty or not a string', () => {
    for (const [field, value] of [
      ['backendUrl', 8080],
      ['deviceDir', 7],
      ['stateDir', null],
      ['camera', ['synthetic']],
    ] as const) {
      const file = configFile({ [field]: value });
      expectRefused(() => loadAgentConfig(file), file, `${field} must be a string`);
    }
    expectRefused(
      () => loadAgentConfig(undefined, { camera: '' }),
      'configuration',
      'camera must be a string',
    );
  });

  it('refuses out-of-range or non-integer numbers, naming the field and its range', () => {
    const cases: [keyof AgentConfig, unknown, string][] = [
      ['fps', 0, '[1, 120]'],
      ['fps', 121, '[1, 120]'],
      ['fps', 2.5, '[1, 120]'],
      ['fps', '10', '[1, 120]'],
      ['fusedFrames', 0, '[1, 9]'],
      ['fusedFrames', 10, '[1, 9]'],
      ['width', 4097, '[1, 4096]'],
      ['height', -480, '[1, 4096]'],
      ['identityTimeoutMs', 0, '[1, 3600000]'],
      ['requestTimeoutMs', 600_001, '[1, 600000]'],
      ['keepFinishedHours', 0, '[1, 8760]'],
      ['keepFinishedHours', 8761, '[1, 8760]'],
    ];
    for (const [field, value, range] of cases) {
      const file = configFile({ [field]: value });
      expectRefused(() => loadAgentConfig(file), file, `${field} must be an integer in ${range}`);
    }
    // The limits themselves are allowed.
    expect(loadAgentConfig(configFile({ fps: 120, fusedFrames: 9 }))).toMatchObject({
      fps: 120,
      fusedFrames: 9,
    });
    expect(loadAgentConfig(configFile({ fps: 1, fusedFrames: 1 }))).toMatchObject({ fps: 1, fusedFrames: 1 });
    // Overrides are checked as well.
    expectRefused(() => loadAgentConfig(undefined, { fps: 0 }), 'configuration', 'fps');
  });

  it('refuses an eye other than left or right', () => {
    for (const eye of ['middle', 'LEFT', '', 1]) {
      const file = configFile({ eye });
      expectRefused(() => loadAgentConfig(file), file, 'eye must be "left" or "right"');
    }
  });

  it('refuses an optional path or format field that is not a non-empty string', () => {
    // A number as pinFile would make agentPin read that file descriptor; a boolean LED folder would fail
    // deep inside the agent with a TypeError instead of naming the field.
    for (const [field, value] of [
      ['pinFile', 5],
      ['led', true],
      ['pixelFormat', 42],
      ['pixelFormat', ''],
    ] as const) {
      const file = configFile({ [field]: value });
      expectRefused(() => loadAgentConfig(file), file, field);
    }
  });
});

describe('agentPin', () => {
  it("reads the pin file's first line, trimmed, in preference to IRISGATE_HSM_PIN", () => {
    const folder = tempDir();
    mkdirSync(join(folder, 'secrets'));
    writeFileSync(join(folder, 'secrets/pin'), '  123456 \nsecond line\n');
    const file = join(folder, 'irisgate-device.json');
    writeFileSync(file, JSON.stringify({ pinFile: 'secrets/pin' }));
    process.env.IRISGATE_HSM_PIN = 'from-environment';
    expect(agentPin(loadAgentConfig(file))).toBe('123456');
  });

  it('takes IRISGATE_HSM_PIN without a pin file, and no PIN when neither is set or it is empty', () => {
    const config = loadAgentConfig();
    expect(agentPin(config)).toBeUndefined();
    process.env.IRISGATE_HSM_PIN = '';
    expect(agentPin(config)).toBeUndefined();
    process.env.IRISGATE_HSM_PIN = '987654';
    expect(agentPin(config)).toBe('987654');
  });

  it('fails naming the pin file when it cannot be read', () => {
    const pinFile = join(tempDir(), 'no-such-pin');
    process.env.IRISGATE_HSM_PIN = '987654';
    expect(() => agentPin(loadAgentConfig(undefined, { pinFile }))).toThrow(pinFile);
  });
});
