/**
 * Where a device key lives. Certificates carry it for every key they bind, so a backend can refuse
 * development keys in production and ask TPM-held keys for proof that they are in the TPM.
 */
export const KEY_STORES = ['tpm', 'softhsm', 'pkcs11', 'development'] as const;
export type KeyStore = (typeof KEY_STORES)[number];

export function isKeyStore(value: unknown): value is KeyStore {
  return typeof value === 'string' && (KEY_STORES as readonly string[]).includes(value);
}
