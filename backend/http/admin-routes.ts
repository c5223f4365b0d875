/**
 * Operator routes (Authorization: Bearer <admin token>): trusted CAs, the device registry, the audit chain,
 * the actions apps verify uniqueness proofs for.
 */
import { Type } from 'typebox';
import { IrisgateError } from '../../protocol/errors.ts';
import { parseAction, parseAppId } from '../../protocol/uniqueness-proof.ts';
import { verifyAuditChain } from '../audit-log.ts';
import type { DeviceRecord } from '../device-registry.ts';
import type { BackendServices } from '../service.ts';
import type { TrustedCa } from '../trusted-cas.ts';
import { type App, bearer } from './app.ts';
import {
  ActionReply,
  ActionRequest,
  AppIdParam,
  AuditReply,
  CertificateRequest,
  DeviceIdParam,
  DeviceReply,
  ERROR_REPLIES,
  RevokeRequest,
  TrustedCaReply,
} from './schemas.ts';

const operator = [{ operator: [] }];

function deviceJson({ certificateDer: _der, lastCounter: _counter, ...device }: DeviceRecord) {
  return device;
}

function caJson({ certificate: _certificate, ...ca }: TrustedCa) {
  return ca;
}

export function adminRoutes({ actions, db, devices, secrets, clock }: BackendServices) {
  return async (app: App) => {
    app.addHook('onRequest', async (request) => {
      if (!secrets.admin.matches(bearer(request))) throw new IrisgateError('unauthorized');
    });
    const tags = ['admin'];

    app.post(
      '/v1/admin/cas',
      {
        schema: {
          tags,
          security: operator,
          summary: 'Trust a manufacturer CA',
          body: CertificateRequest,
          response: { 200: TrustedCaReply, ...ERROR_REPLIES },
        },
      },
      async (request) => caJson(await devices.trustCa(request.body.certificate, clock())),
    );
    app.get(
      '/v1/admin/cas',
      {
        schema: {
          tags,
          security: operator,
          summary: 'The trusted manufacturer CAs',
          response: { 200: Type.Array(TrustedCaReply), ...ERROR_REPLIES },
        },
      },
      async () => (await devices.listTrustedCas()).map(caJson),
    );
    app.post(
      '/v1/admin/devices',
      {
        schema: {
          tags,
          security: operator,
          summary: 'Register a device by its certificate (201 new, 200 already registered)',
          body: CertificateRequest,
          response: { 200: DeviceReply, 201: DeviceReply, ...ERROR_REPLIES },
        },
      },
      async (request, reply) => {
        const { device, created } = await devices.register(request.body.certificate, clock());
        request.log.info({ deviceId: device.deviceId, created }, 'device registered');
        return reply.status(created ? 201 : 200).send(deviceJson(device));
      },
    );
    app.get(
      '/v1/admin/devices',
      {
        schema: {
          tags,
          security: operator,
          summary: 'Every registered device',
          response: { 200: Type.Array(DeviceReply), ...ERROR_REPLIES },
        },
      },
      async () => (await devices.list()).map(deviceJson),
    );
    app.post(
      '/v1/admin/devices/:deviceId/revoke',
      {
        schema: {
          tags,
          security: operator,
          summary: 'Revoke a device for good',
          params: DeviceIdParam,
          body: RevokeRequest,
          response: { 200: DeviceReply, ...ERROR_REPLIES },
        },
      },
      async (request) => {
        const device = await devices.revoke(request.params.deviceId, request.body.reason, clock());
        request.log.warn({ deviceId: device.deviceId, reason: device.revokedReason }, 'device revoked');
        return deviceJson(device);
      },
    );
    app.get(
      '/v1/admin/audit',
      {
        schema: {
          tags,
          security: operator,
          summary: 'Verify the audit log hash chain',
          response: { 200: AuditReply, ...ERROR_REPLIES },
        },
      },
      async () => verifyAuditChain(db),
    );
    app.post(
      '/v1/admin/apps/:appId/actions',
      {
        schema: {
          tags,
          security: operator,
          summary:
            "Open an action for an app's uniqueness proofs (201), or set its limit and description (200)",
          description:
            'The body is the whole definition: sent again, it replaces maxVerifications (default 1) and description (default none); createdAtMs stays.',
          params: AppIdParam,
          body: ActionRequest,
          response: { 200: ActionReply, 201: ActionReply, ...ERROR_REPLIES },
        },
      },
      async (request, reply) => {
        const { action, created } = await actions.register(
          {
            appId: parseAppId(request.params.appId),
            action: parseAction(request.body.action),
            maxVerifications: request.body.maxVerifications ?? 1,
            description: request.body.description ?? null,
          },
          clock(),
        );
        request.log.info(
          { appId: action.appId, action: action.action, maxVerifications: action.maxVerifications, created },
          'verify action registered',
        );
        return reply.status(created ? 201 : 200).send(action);
      },
    );
    app.get(
      '/v1/admin/apps/:appId/actions',
      {
        schema: {
          tags,
          security: operator,
          summary: "The app's actions",
          params: AppIdParam,
          response: { 200: Type.Array(ActionReply), ...ERROR_REPLIES },
        },
      },
      async (request) => actions.list(parseAppId(request.params.appId)),
    );
  };
}
