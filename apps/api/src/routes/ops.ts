import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { FailedAuthLimit } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { createMetrics, metricsAccess } from '../metrics.ts';

export const opsRoutes =
  (ctx: AppContext, limit: FailedAuthLimit): FastifyPluginAsyncZod =>
  async (app) => {
    const metrics = createMetrics(ctx);
    app.get(
      '/metrics',
      { onRequest: metricsAccess(ctx.config.metricsToken, limit), schema: { tags: ['ops'], summary: 'Prometheus metrics (text exposition format)' } },
      async (_request, reply) => {
        await metrics.refresh();
        return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
      },
    );

    app.get(
      '/health',
      {
        schema: {
          tags: ['ops'],
          summary: 'The process is up',
          response: { 200: z.object({ status: z.literal('ok'), node: z.string(), uptime_seconds: z.number() }) },
        },
      },
      async () => ({ status: 'ok' as const, node: ctx.config.nodeName, uptime_seconds: Math.round(process.uptime()) }),
    );

    const readiness = z.object({
      status: z.enum(['ready', 'not ready']),
      postgres: z.boolean(),
      redis: z.boolean(),
      detection_scheduler: z.enum(['present', 'missing', 'off', 'unknown']),
    });
    app.get(
      '/ready',
      {
        schema: {
          tags: ['ops'],
          summary: 'PostgreSQL and Redis answer, and Redis holds the detection scheduler the settings ask for',
          response: { 200: readiness, 503: readiness },
        },
      },
      async (_request, reply) => {
        const [postgres, redis, detection_scheduler] = await Promise.all([
          ctx.pool.query('SELECT 1').then(
            () => true,
            () => false,
          ),
          ctx.redisReady().catch(() => false),
          ctx.detectionScheduler(),
        ]);
        const ready = postgres && redis && detection_scheduler !== 'missing';
        return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', postgres, redis, detection_scheduler });
      },
    );
  };
