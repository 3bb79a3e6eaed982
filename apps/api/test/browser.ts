// The headless Chromium that browser tests drive with playwright-core.
import { existsSync } from 'node:fs';

/**
 * The browser: CHROMIUM_PATH when set; on Linux x64 the headless Chromium that npm brings
 * (@sparticuz/chromium, unpacked into the temp folder at first use), so that `npm ci && npm test` needs
 * nothing installed by hand; elsewhere the system's Chromium (Debian's package `chromium`).
 */
export async function browserExecutable(): Promise<string> {
  const path =
    process.env.CHROMIUM_PATH ??
    (process.platform === 'linux' && process.arch === 'x64' ? await (await import('@sparticuz/chromium')).default.executablePath() : '/usr/bin/chromium');
  if (!existsSync(path)) throw new Error(`Chromium is not at ${path}: set CHROMIUM_PATH, or install the system's chromium package`);
  return path;
}

/** Launch flags: headless, and no traffic of Chromium's own (the test machine's network may be closed). */
export const BROWSER_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
