// Runtime settings: catch-up behaviour an operator may change while a node runs. Each has an
// environment variable for its default and a sync_config key that overrides it at run time.
import { z } from 'zod';
import { integerIn, type ValueType } from './values.ts';

interface SettingDefinition<T> {
  env: string;
  type: ValueType;
  schema: z.ZodType<T>;
  default: T;
  description: string;
}

const define = <T>(d: SettingDefinition<T>) => d;

/** The most changes in one batch: the most catchup_batch_size allows, and the most a peer reads or takes at once. */
export const MAX_BATCH_SIZE = 10_000;

export const settingDefinitions = {
  catchup_enabled: define({
    env: 'CATCHUP_ENABLED',
    type: 'boolean',
    schema: z.boolean(),
    default: true,
    description: 'Master switch: detection and catch-up run only when true.',
  }),
  catchup_scheduler_enabled: define({
    env: 'CATCHUP_SCHEDULER_ENABLED',
    type: 'boolean',
    schema: z.boolean(),
    default: true,
    description: 'Run detection on a schedule (every catchup_check_interval seconds).',
  }),
  max_catchup_days: define({
    env: 'MAX_CATCHUP_DAYS',
    type: 'integer',
    schema: integerIn(1, 3650),
    default: 30,
    description: 'Change-log retention; a peer behind it gets a full baseline.',
  }),
  catchup_prune_interval: define({
    env: 'CATCHUP_PRUNE_INTERVAL',
    type: 'integer',
    schema: integerIn(1, 604800),
    default: 21600,
    description: 'Seconds between scheduled retention prunes (change log, file tombstones, sync logs older than max_catchup_days).',
  }),
  catchup_batch_size: define({
    env: 'CATCHUP_BATCH_SIZE',
    type: 'integer',
    schema: integerIn(1, MAX_BATCH_SIZE),
    // Each batch costs a job, a request and a transaction or log stream whatever its size: small
    // batches spend most of a catch-up on that fixed cost (README, Batch size).
    default: 1000,
    description: 'Changes per batch-send / batch-receive job.',
  }),
  catchup_check_interval: define({
    env: 'CATCHUP_CHECK_INTERVAL',
    type: 'integer',
    schema: integerIn(1, 86400),
    default: 300,
    description: 'Seconds between scheduled detections.',
  }),
  catchup_connection_timeout: define({
    env: 'CATCHUP_CONNECTION_TIMEOUT',
    type: 'integer',
    schema: integerIn(1, 3600),
    default: 60,
    description: 'Seconds before a request to a peer times out.',
  }),
  catchup_retry_attempts: define({
    env: 'CATCHUP_RETRY_ATTEMPTS',
    type: 'integer',
    schema: integerIn(1, 100),
    default: 5,
    description: 'Attempts per catch-up child job before it is given up.',
  }),
  catchup_retry_delay_ms: define({
    env: 'CATCHUP_RETRY_DELAY_MS',
    type: 'integer',
    schema: integerIn(1, 3_600_000),
    default: 1000,
    description: 'Base delay of the exponential backoff between attempts.',
  }),
  catchup_max_clock_skew_seconds: define({
    env: 'CATCHUP_MAX_CLOCK_SKEW_SECONDS',
    type: 'integer',
    schema: integerIn(1, 86400),
    default: 300,
    description:
      "Largest clock difference tolerated: a change stamped further ahead of this node's clock is refused, and a peer whose clock is off by more is not caught up with.",
  }),
  catchup_held_check: define({
    env: 'CATCHUP_HELD_CHECK',
    type: 'boolean',
    schema: z.boolean(),
    default: true,
    description:
      "Before sending changes a peer may hold already (relayed by another node), ask it which it lacks and send only those; answer peers' asks. false: send every change past the cursor, and answer asks 404 (as a node of a version before the check).",
  }),
  catchup_held_lease_seconds: define({
    env: 'CATCHUP_HELD_LEASE_SECONDS',
    type: 'integer',
    schema: integerIn(1, 3600),
    default: 30,
    description:
      'Seconds a change this node lacks is reserved for the peer told to deliver it: other peers asking meanwhile are told it is on its way, and send it only if it has not arrived when the reservation ends.',
  }),
  table_priorities: define({
    env: 'TABLE_PRIORITIES',
    type: 'string',
    schema: z
      .string()
      .max(2000)
      .regex(/^\s*(?:[a-z_][a-z0-9_]*\s*(?:,\s*[a-z_][a-z0-9_]*\s*)*)?$/)
      .describe('comma-separated table names, most urgent first'),
    default: '',
    description:
      "Synced tables whose changes go first, most urgent first (e.g. scouting_data,matches): a catch-up's batches holding their changes are sent ahead of the others'. Tables not listed come after.",
  }),
  team_filter_columns: define({
    env: 'TEAM_FILTER_COLUMNS',
    type: 'string',
    schema: z
      .string()
      .max(2000)
      .regex(/^\s*(?:[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)?\s*(?:,\s*(?:[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)?\s*)*$/)
      .describe('comma-separated column names and table.column pairs (plain lower-case identifiers)'),
    default: 'scouting_team_number',
    description:
      "Team isolation: the column holding a row's scouting team number — a name used by every synced table that has it, and table.column pairs for tables that name it otherwise (comma-separated). Rows of those tables reach a peer with a team scope only when in its teams.",
  }),
} as const;

export type SettingKey = keyof typeof settingDefinitions;
type Widened<T> = T extends boolean ? boolean : T extends number ? number : string;
export type RuntimeSettings = { [K in SettingKey]: Widened<(typeof settingDefinitions)[K]['default']> };

export const settingKeys = Object.keys(settingDefinitions) as SettingKey[];

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(settingDefinitions, key);
}
