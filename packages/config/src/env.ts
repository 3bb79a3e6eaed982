// Process configuration from the environment (SPEC §8), validated once at start-up.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, type ConfigProblem } from './errors.ts';
import { isPeerHostEntry } from './peer-hosts.ts';
import { settingDefinitions, settingKeys, type RuntimeSettings } from './settings.ts';
import { readTlsConfig, type TlsConfig } from './tls.ts';
import { describeExpected, parseBoolean, parseInteger, parseTyped, integerIn } from './values.ts';

export interface NodeConfig extends TlsConfig {
  databaseUrl: string;
  redisUrl: string;
  host: string;
  port: number;
  nodeName: string;
  /** The node's API key (operators, the CLI; peers get credentials of their own); undefined means "generate and store one at first start". */
  syncApiKey: string | undefined;
  dataDir: string;
  queuePrefix: string;
  logLevel: string;
  /** Largest request body accepted (413 beyond). */
  bodyLimitBytes: number;
  /** How long POST /api/sync/catchup/scan waits for its catch-ups before answering 202. */
  scanWaitSeconds: number;
  /** Run the BullMQ workers inside the API process (npm start); false for an API-only process. */
  runWorkers: boolean;
  /** Jobs processed at once per worker process and queue (batch queues; detection runs one at a time). */
  workerConcurrency: number;
  /** Connections each of a process's two database pools (Prisma's, the change log's) opens at most. */
  databasePoolSize: number;
  /** How long a worker holds a job before others may take it back as stalled (renewed while it runs). */
  jobLockSeconds: number;
  /** Bull Board credentials (HTTP basic auth); Bull Board is off while no password is set. */
  adminUser: string;
  adminPassword: string | undefined;
  /** Bearer token GET /metrics requires; undefined leaves /metrics open. */
  metricsToken: string | undefined;
  /** Failed authentications an address may make in authFailureWindowSeconds; beyond, its requests get 429. */
  authFailureLimit: number;
  /** zstd level of the bodies this node compresses (answers, batches it posts); 0: none. */
  compressionLevel: number;
  authFailureWindowSeconds: number;
  /** Largest file a peer may upload (413 beyond). */
  fileUploadLimitBytes: number;
  /** Extra exclusion globs for synced files, added to the defaults (SYNC_EXCLUDE, comma-separated). */
  syncExclude: string[];
  /** Hosts a peer may be registered at: names, IPs or CIDR blocks (PEER_HOSTS, comma-separated); empty allows any. */
  peerHosts: string[];
  /** Defaults for the runtime settings; sync_config rows override them. */
  defaults: RuntimeSettings;
}

type Env = Record<string, string | undefined>;

const urlWithProtocol = (protocols: string[]) =>
  z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  });

interface EnvField {
  expected: string;
  secret?: boolean;
  parse: (raw: string) => unknown;
  schema: z.ZodType;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const processFields: Record<string, EnvField> = {
  DATABASE_URL: {
    expected: 'a postgresql:// URL',
    parse: (v) => v,
    schema: urlWithProtocol(['postgresql:', 'postgres:']),
  },
  REDIS_URL: { expected: 'a redis:// URL', parse: (v) => v, schema: urlWithProtocol(['redis:', 'rediss:']) },
  HOST: { expected: 'a host name or address', parse: (v) => v, schema: z.string().min(1) },
  PORT: { expected: 'an integer from 0 to 65535', parse: parseInteger, schema: integerIn(0, 65535) },
  NODE_NAME: {
    expected: 'a name of letters, digits, dot, dash or underscore (1-64)',
    parse: (v) => v,
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  },
  SYNC_API_KEY: {
    expected: 'a key of at least 16 characters',
    secret: true,
    parse: (v) => v,
    schema: z.string().min(16),
  },
  DATA_DIR: { expected: 'a folder path', parse: (v) => v, schema: z.string().min(1) },
  QUEUE_PREFIX: {
    expected: 'letters, digits, dot, dash, underscore, colon or braces (Redis Cluster hash tag)',
    parse: (v) => v,
    schema: z.string().regex(/^[A-Za-z0-9._:{}-]{1,100}$/),
  },
  BODY_LIMIT_BYTES: {
    expected: 'an integer from 1024 to 1073741824',
    parse: parseInteger,
    schema: integerIn(1024, 1024 ** 3),
  },
  SCAN_WAIT_SECONDS: { expected: 'an integer from 0 to 3600', parse: parseInteger, schema: integerIn(0, 3600) },
  RUN_WORKERS: { expected: 'a boolean (true/false)', parse: parseBoolean, schema: z.boolean() },
  WORKER_CONCURRENCY: { expected: 'an integer from 1 to 64', parse: parseInteger, schema: integerIn(1, 64) },
  DATABASE_POOL_SIZE: { expected: 'an integer from 4 to 100', parse: parseInteger, schema: integerIn(4, 100) },
  JOB_LOCK_SECONDS: { expected: 'an integer from 2 to 3600', parse: parseInteger, schema: integerIn(2, 3600) },
  ADMIN_USER: { expected: 'a user name of 1-64 characters without ":"', parse: (v) => v, schema: z.string().regex(/^[^:]{1,64}$/) },
  ADMIN_PASSWORD: { expected: 'a password of at least 8 characters', secret: true, parse: (v) => v, schema: z.string().min(8) },
  METRICS_TOKEN: { expected: 'a token of at least 16 characters', secret: true, parse: (v) => v, schema: z.string().min(16) },
  AUTH_FAILURE_LIMIT: { expected: 'an integer from 1 to 100000', parse: parseInteger, schema: integerIn(1, 100_000) },
  COMPRESSION_LEVEL: { expected: 'an integer from 0 (no compression) to 19', parse: parseInteger, schema: integerIn(0, 19) },
  AUTH_FAILURE_WINDOW_SECONDS: { expected: 'an integer from 1 to 86400', parse: parseInteger, schema: integerIn(1, 86_400) },
  FILE_UPLOAD_LIMIT_BYTES: { expected: 'an integer of at least 1', parse: parseInteger, schema: z.number().int().min(1) },
  SYNC_EXCLUDE: {
    expected: 'comma-separated glob patterns',
    parse: (v) =>
      v
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    schema: z.array(z.string().min(1).max(200)).max(100),
  },
  PEER_HOSTS: {
    expected: 'comma-separated host names, IP addresses or CIDR blocks',
    parse: (v) =>
      v
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    schema: z.array(z.string().refine(isPeerHostEntry)).max(1000),
  },
  LOG_LEVEL: { expected: `one of ${LOG_LEVELS.join(', ')}`, parse: (v) => v, schema: z.enum(LOG_LEVELS) },
};

function defaultNodeName(): string {
  return (
    os
      .hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 64) || 'node'
  );
}

/** Reads and validates the environment; throws ConfigError naming every bad key. */
export function loadNodeConfig(env: Env = process.env): NodeConfig {
  const problems: ConfigProblem[] = [];
  const read = <T>(key: string, fallback: T): T => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    const field = processFields[key]!;
    const parsed = field.parse(raw);
    const result = field.schema.safeParse(parsed);
    if (parsed === undefined || !result.success) {
      problems.push({ key, expected: field.expected, ...(field.secret ? {} : { received: raw }) });
      return fallback;
    }
    return result.data as T;
  };

  const nodeName = read('NODE_NAME', defaultNodeName());
  const config: NodeConfig = {
    databaseUrl: read('DATABASE_URL', 'postgresql://postgres@127.0.0.1:5432/catchup'),
    redisUrl: read('REDIS_URL', 'redis://127.0.0.1:6379'),
    host: read('HOST', '0.0.0.0'),
    port: read('PORT', 5000),
    nodeName,
    syncApiKey: read<string | undefined>('SYNC_API_KEY', undefined),
    dataDir: path.resolve(read('DATA_DIR', path.join('data', nodeName))),
    queuePrefix: read('QUEUE_PREFIX', `catchup:${nodeName}`),
    logLevel: read('LOG_LEVEL', 'info'),
    bodyLimitBytes: read('BODY_LIMIT_BYTES', 16 * 1024 * 1024),
    scanWaitSeconds: read('SCAN_WAIT_SECONDS', 30),
    runWorkers: read('RUN_WORKERS', true),
    workerConcurrency: read('WORKER_CONCURRENCY', 4),
    databasePoolSize: read('DATABASE_POOL_SIZE', 10),
    jobLockSeconds: read('JOB_LOCK_SECONDS', 30),
    adminUser: read('ADMIN_USER', 'admin'),
    adminPassword: read<string | undefined>('ADMIN_PASSWORD', undefined),
    metricsToken: read<string | undefined>('METRICS_TOKEN', undefined),
    authFailureLimit: read('AUTH_FAILURE_LIMIT', 10),
    compressionLevel: read('COMPRESSION_LEVEL', 3),
    authFailureWindowSeconds: read('AUTH_FAILURE_WINDOW_SECONDS', 60),
    syncExclude: read<string[]>('SYNC_EXCLUDE', []),
    peerHosts: read<string[]>('PEER_HOSTS', []),
    fileUploadLimitBytes: read('FILE_UPLOAD_LIMIT_BYTES', 2 * 1024 ** 3),
    defaults: readSettingDefaults(env, problems),
    ...readTlsConfig(env, problems),
  };
  if (problems.length) throw new ConfigError('environment', problems);
  return config;
}

function readSettingDefaults(env: Env, problems: ConfigProblem[]): RuntimeSettings {
  const out: Record<string, unknown> = {};
  for (const key of settingKeys) {
    const def = settingDefinitions[key];
    const raw = env[def.env];
    if (raw === undefined || raw === '') {
      out[key] = def.default;
      continue;
    }
    const parsed = parseTyped(raw, def.type);
    const result = (def.schema as z.ZodType).safeParse(parsed);
    if (parsed === undefined || !result.success) {
      problems.push({ key: def.env, expected: describeExpected(def.type, def.schema), received: raw });
      out[key] = def.default;
    } else {
      out[key] = result.data;
    }
  }
  return out as RuntimeSettings;
}
