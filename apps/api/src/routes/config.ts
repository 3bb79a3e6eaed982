// Runtime settings: read, and change without a restart (validated; all or nothing; audited).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { settingDefinitions, settingKeys, updateRuntimeSettings } from '@catchup/config';
import { ADMIN_OPERATIONS, fieldChanges, recordAdminAction } from '@catchup/engine';
import type { AppContext } from '../context.ts';
import { errorResponses } from '../schemas.ts';

const settingsShape = Object.fromEntries(
  settingKeys.map((k) => [k, (settingDefinitions[k].schema as z.ZodType).describe(settingDefinitions[k].description)]),
) as Record<string, z.ZodType>;
const settingsSchema = z.object(settingsShape);
const updateSchema = z.object(Object.fromEntries(Object.entries(settingsShape).map(([k, s]) => [k, s.optional()]))).strict();

export const configRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const response = z.object({ settings: settingsSchema, defaults: settingsSchema });
    app.get(
      '/config',
      { schema: { tags: ['config'], summary: 'Settings in force and their environment defaults', response: { 200: response, 401: errorResponses[401] } } },
      async () => ({
        settings: await ctx.engine.settings(),
        defaults: ctx.config.defaults,
      }),
    );

    app.put(
      '/config',
      {
        schema: {
          tags: ['config'],
          summary: 'Change settings (stored in sync_config); scheduling changes apply at once',
          body: updateSchema,
          response: { 200: response, ...errorResponses },
        },
      },
      async (request) => {
        const before = await ctx.engine.settings();
        const settings = await updateRuntimeSettings(ctx.db, ctx.config.defaults, request.body as Record<string, unknown>);
        const changes = fieldChanges(before, settings);
        if (Object.keys(changes).length) {
          await recordAdminAction(ctx.engine, {
            operation: ADMIN_OPERATIONS.settingsChanged,
            actor: request.actor,
            details: `Settings changed: ${Object.keys(changes).join(', ')}`,
            changes,
          });
        }
        await ctx.reschedule();
        return { settings, defaults: ctx.config.defaults };
      },
    );
  };
