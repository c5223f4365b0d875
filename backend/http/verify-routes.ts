/**
 * POST /v1/verify/:appId, public like World ID's developer verify API: an app sends the uniqueness proof a
 * person's wallet gave it, the action and the signal, and learns whether this is a unique person who has not
 * used the action more than it allows. The rules are protocol checkUniquenessProof's; every refusal answers
 * 400 { code, message } with one of its codes, a request of the wrong shape included (invalid_format, never
 * malformed_request).
 */
import type { FastifyError } from 'fastify';
import { IrisgateError } from '../../protocol/errors.ts';
import { checkUniquenessProof, type RootSource } from '../../protocol/uniqueness-proof.ts';
import type { BackendServices } from '../service.ts';
import { type App, errorReply } from './app.ts';
import { AppIdParam, ERROR_REPLIES, VerifyReply, VerifyRequest } from './schemas.ts';

export function verifyRoutes({
  actions,
  clock,
  config,
  group,
  metrics,
  nullifiers,
  proofs,
}: BackendServices) {
  const roots: RootSource = { lookup: (root) => group.rootRecord(root) };
  /** A request may ask for fresher roots than the backend's expiry, never for older ones. */
  const maxRootAgeSeconds = config.rootExpiryMs / 1000;

  return async (app: App) => {
    app.post(
      '/v1/verify/:appId',
      {
        schema: {
          tags: ['verify'],
          summary: "Verify a person's uniqueness proof for an action of this app, and count the use",
          description:
            "The proof must be for this app and action (scope) and this signal (message, '' by default), against a root the backend issued that was current less than maxRootAgeSeconds ago (at most, and by default, the backend's root expiry), and its nullifier must not have used the action as often as the action allows (maxVerifications, POST /v1/admin/apps/{appId}/actions). A refused proof counts no use. Refusals answer 400 with code invalid_format, invalid_action, invalid_proof, invalid_merkle_root, root_too_old or max_verifications_reached.",
          params: AppIdParam,
          body: VerifyRequest,
          response: { 200: VerifyReply, ...ERROR_REPLIES },
        },
        config: { rateLimit: { max: config.limits.verifyRequestsPerMinute, timeWindow: 60_000 } },
        // Anything malformed (the body's schema, JSON or media type) is this API's invalid_format; a body too
        // large stays 413 body_too_large.
        errorHandler(error: FastifyError, request, reply) {
          const status = error.statusCode ?? 500;
          const malformed =
            !(error instanceof IrisgateError) &&
            (error.validation !== undefined || (status >= 400 && status < 500 && status !== 413));
          const answer = malformed
            ? { status: 400, body: { code: 'invalid_format', message: error.message } }
            : errorReply(error, request.log);
          metrics.verifications.inc({ outcome: answer.body.code });
          request.log.info(
            { appId: request.params.appId, outcome: answer.body.code },
            'verification refused',
          );
          return reply.status(answer.status).send(answer.body);
        },
        onResponse: async (_request, reply) => {
          metrics.verifySeconds.observe(reply.elapsedTime / 1000);
        },
      },
      async (request) => {
        const verdict = await checkUniquenessProof(
          {
            proof: request.body.proof,
            appId: request.params.appId,
            action: request.body.action,
            signal: request.body.signal ?? '',
            maxRootAgeSeconds: Math.min(
              request.body.maxRootAgeSeconds ?? maxRootAgeSeconds,
              maxRootAgeSeconds,
            ),
          },
          {
            verifier: proofs.verifier,
            roots,
            nullifiers,
            maxUses: async (appId, action) => (await actions.get(appId, action))?.maxVerifications,
            depths: proofs.depths,
            now: clock(),
          },
        );
        const { appId, action } = verdict;
        metrics.verifications.inc({ outcome: 'success' });
        request.log.info({ appId, action, uses: verdict.uses }, 'verification succeeded');
        return { success: true as const, ...verdict };
      },
    );
  };
}
