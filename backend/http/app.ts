/**
 * The HTTP service: fastify with TypeBox schemas on every route, OpenAPI at /docs, rate limits, and one
 * error shape, `{ "code": "<stable code>", "message": "..." }`, for every refusal. Nothing a client sends
 * can produce a 500: a failure that is not the request's fault is logged and answered internal_error.
 */

import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { IrisgateError } from '../../protocol/errors.ts';
import type { BackendServices } from '../service.ts';
import { adminRoutes } from './admin-routes.ts';
import { deviceRoutes } from './device-routes.ts';
import { httpStatus } from './error-status.ts';
import { groupRoutes } from './group-routes.ts';
import { opsRoutes } from './ops-routes.ts';
import { ErrorReply } from './schemas.ts';
import { verifyRoutes } from './verify-routes.ts';

export type App = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** The bearer credential of a request, if any. */
export function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
}

/** Maps whatever a route or fastify threw to the status and body the client gets. */
export function errorReply(
  error: unknown,
  log: FastifyBaseLogger,
): { status: number; body: { code: string; message: string } } {
  if (error instanceof IrisgateError) return { status: httpStatus(error.code), body: error.toJSON() };
  const fastifyError = error as {
    code?: string;
    statusCode?: number;
    validation?: unknown;
    message?: string;
  };
  const message = fastifyError.message ?? String(error);
  if (fastifyError.validation) return { status: 400, body: { code: 'malformed_request', message } };
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { code: 'body_too_large', message } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { code: 'unsupported_media_type', message } };
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return { status: 400, body: { code: 'malformed_request', message } };
  }
  log.error({ err: error }, 'internal error');
  return { status: 500, body: { code: 'internal_error', message: 'an unexpected internal error' } };
}

export async function buildApp(services: BackendServices, logger: boolean | object = false): Promise<App> {
  const { config, metrics, tokens } = services;
  const app: App = Fastify({
    logger,
    bodyLimit: config.limits.bodyBytes,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: fastify would otherwise parse text/plain bodies and leave the schema to refuse them.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = errorReply(error, request.log);
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ code: 'not_found', message: `no route ${request.method} ${request.url}` }),
  );
  app.addHook('onResponse', async (request, reply) => {
    metrics.requests.inc({
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    });
  });
  app.addSchema(ErrorReply);

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Irisgate backend',
        version: config.softwareVersion,
        description:
          'Signed-signup gate, uniqueness index, Semaphore group and uniqueness-proof verification of an Irisgate deployment.',
      },
      components: {
        securitySchemes: {
          device: { type: 'http', scheme: 'bearer', description: 'token from POST /v1/devices/{id}/token' },
          operator: { type: 'http', scheme: 'bearer', description: 'the admin token' },
        },
      },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await app.register(fastifyRateLimit, {
    max: config.limits.requestsPerMinute,
    timeWindow: 60_000,
    // Authenticated devices are limited each on their own, everyone else by address.
    keyGenerator(request) {
      try {
        return `device:${tokens.verify(bearer(request))}`;
      } catch {
        return `ip:${request.ip}`;
      }
    },
    errorResponseBuilder: (_request, context) =>
      new IrisgateError(
        'rate_limited',
        `rate limit of ${context.max} per minute reached; retry in ${context.after}`,
      ),
  });

  await app.register(opsRoutes(services));
  await app.register(deviceRoutes(services));
  await app.register(groupRoutes(services));
  await app.register(verifyRoutes(services));
  await app.register(adminRoutes(services));
  return app;
}
