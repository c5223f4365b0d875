/** Where Debian installs the PKCS#11 modules Irisgate uses, for each token kind. */
import { existsSync } from 'node:fs';
import { arch } from 'node:os';
import { IrisgateError } from '../protocol/errors.ts';
import type { KeyStore } from '../protocol/key-store.ts';

const MULTIARCH: Record<string, string> = {
  x64: 'x86_64-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  arm: 'arm-linux-gnueabihf',
};

const MODULE_FILES: Partial<Record<KeyStore, string>> = {
  softhsm: 'libsofthsm2.so',
  tpm: 'libtpm2_pkcs11.so.1',
};

export function defaultModulePath(kind: KeyStore): string {
  const file = MODULE_FILES[kind];
  if (!file) throw new IrisgateError('invalid_argument', `give --module for a ${kind} token`);
  const dirs = ['/usr/lib/softhsm', `/usr/lib/${MULTIARCH[arch()] ?? ''}`, '/usr/lib64', '/usr/lib'];
  const found = dirs.map((dir) => `${dir}/${file}`).find((path) => existsSync(path));
  if (!found) {
    throw new IrisgateError(
      'hsm_unavailable',
      `${file} not found (run scripts/system-deps.sh, or give --module)`,
    );
  }
  return found;
}
