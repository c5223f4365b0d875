/** Operations: liveness and readiness probes, Prometheus metrics, and what devices and apps need to know. */
import { Type } from 'typebox';
import { toHex } from '../../protocol/bytes.ts';
import { IrisgateError } from '../../protocol/errors.ts';
import { RECEIPT_ALGORITHM } from '../../protocol/signup-receipt.ts';
import type { BackendServices } from '../service.ts';
import type { App } from './app.ts';
import { ERROR_REPLIES, InfoReply } from './schemas.ts';

export function opsRoutes({ config, db, group, index, metrics, secrets }: BackendServices) {
  return async (app: App) => {
    app.get(
      '/healthz',
      {
        schema: {
          tags: ['operations'],
          summary: 'The process is up',
          response: { 200: Type.Object({ status: Type.Literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );
    app.get(
      '/readyz',
      {
        schema: {
          tags: ['operations'],
          summary: 'The database answers and the gallery is loaded',
          response: {
            200: Type.Object({
              status: Type.Literal('ready'),
              members: Type.Integer(),
              enrolledEyes: Type.Integer(),
            }),
            ...ERROR_REPLIES,
          },
        },
      },
      async () => {
        try {
          await db.query('select 1');
        } catch (cause) {
          throw new IrisgateError('not_ready', 'the database does not answer', { cause });
        }
        return { status: 'ready' as const, members: group.size, enrolledEyes: index.size };
      },
    );
    app.get(
      '/metrics',
      { schema: { tags: ['operations'], summary: 'Prometheus metrics (text format)' } },
      async (_request, reply) => {
        reply.header('content-type', metrics.registry.contentType);
        return metrics.registry.metrics();
      },
    );
    app.get(
      '/v1/info',
      {
        schema: {
          tags: ['operations'],
          summary: 'Audience, mode and receipt key of this backend',
          response: { 200: InfoReply },
        },
      },
      async () => ({
        audience: config.audience,
        mode: config.production ? ('production' as const) : ('development' as const),
        receiptKey: {
          algorithm: RECEIPT_ALGORITHM,
          publicKey: toHex(secrets.receiptSigner.publicKey),
          keyId: secrets.receiptSigner.keyId,
        },
        treeDepth: config.treeDepth,
        rootExpiryMs: config.rootExpiryMs,
      }),
    );
  };
}
