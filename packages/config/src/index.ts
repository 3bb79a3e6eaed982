export { ConfigError, type ConfigProblem } from './errors.ts';
export { loadNodeConfig, type NodeConfig } from './env.ts';
export type { ServedTls, TlsConfig } from './tls.ts';
export { isPeerHostEntry, isPeerHostListed, peerHostProblem } from './peer-hosts.ts';
export {
  MAX_BATCH_SIZE,
  settingDefinitions,
  settingKeys,
  isSettingKey,
  type RuntimeSettings,
  type SettingKey,
} from './settings.ts';
export { resolveRuntimeSettings, toConfigRows, type ConfigRow } from './runtime.ts';
export { loadRuntimeSettings, updateRuntimeSettings } from './store.ts';
export { describeStartupError, RedisUnreachableError } from './startup-errors.ts';
