/**
 * The operator files in device/ agree with the code: the example configuration loads with every field
 * known and valid, device/README.md names every configuration field, and the systemd unit runs the agent
 * with a configuration file.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGENT_CONFIG, loadAgentConfig } from '../../device/agent-config.ts';

const file = (name: string) => fileURLToPath(new URL(`../../device/${name}`, import.meta.url));
const EXAMPLE = file('irisgate-device.example.json');
/** The optional fields: loadAgentConfig accepts them besides DEFAULT_AGENT_CONFIG's keys. */
const OPTIONAL_FIELDS = ['pinFile', 'pixelFormat', 'led'];
const FIELDS = [...Object.keys(DEFAULT_AGENT_CONFIG), ...OPTIONAL_FIELDS];

describe('device/irisgate-device.example.json', () => {
  it('loads with loadAgentConfig: every field known and valid', () => {
    const json = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
    for (const key of Object.keys(json)) expect(FIELDS).toContain(key);
    const config = loadAgentConfig(EXAMPLE);
    // Nothing from the defaults where the file says otherwise: what the file holds is what the agent gets.
    expect(config).toEqual({ ...DEFAULT_AGENT_CONFIG, ...json });
    expect(config).toMatchObject({
      backendUrl: 'https://backend.example/',
      deviceDir: '/var/lib/irisgate/device',
      stateDir: '/var/lib/irisgate/state',
      camera: '/dev/video0',
      led: '/sys/class/leds/ir',
    });
    expect(config.pinFile).toBeUndefined();
  });
});

describe('device/README.md', () => {
  const readme = readFileSync(file('README.md'), 'utf8');

  it.each(FIELDS)('documents the configuration field %s', (field) => {
    expect(readme).toContain(`\`${field}\``);
  });

  it('documents every default in its configuration table', () => {
    const lines = readme.split('\n');
    const header = lines.indexOf('| field | default | meaning |');
    expect(header).toBeGreaterThan(-1);
    const end = lines.indexOf('', header);
    const table = lines.slice(header + 2, end === -1 ? undefined : end);
    for (const [field, value] of Object.entries(DEFAULT_AGENT_CONFIG)) {
      const row = table.find((line) => line.split('|')[1]?.includes(`\`${field}\``));
      expect(row, `a table row for ${field}`).toBeDefined();
      expect(row).toContain(`\`${value}\``);
    }
  });
});

describe('device/irisgate-device.service', () => {
  it('runs the agent with a configuration file', () => {
    const unit = readFileSync(file('irisgate-device.service'), 'utf8');
    const execStart = unit.split('\n').find((line) => line.startsWith('ExecStart='));
    expect(execStart).toContain('device run --config');
  });
});
