/**
 * The one entry to @peculiar/x509: its dependency injection (tsyringe) needs the reflect-metadata
 * polyfill loaded first, and it must use Node's WebCrypto.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export { x509 };
