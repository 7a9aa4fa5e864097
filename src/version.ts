// The package version, read once: from package.json beside dist/, or (in the single
// executable, where nothing beside it is read) from what the bundler defined.

import { readFileSync } from 'node:fs';

declare const SHADOWCAT_BUNDLED_VERSION: string | undefined;

/** True inside the single executable (make binary). */
export const BUNDLED = typeof SHADOWCAT_BUNDLED_VERSION === 'string';

/** The package version, e.g. 0.1.0. */
export const VERSION: string = BUNDLED
  ? SHADOWCAT_BUNDLED_VERSION as string
  : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
