// The embedding options stay in step with the flag table: every flag of forward http and
// forward tcp has a typed option, and every option is a flag (or mode/logger/hooks/command).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { camelName, FLAGS } from '../../../dist/config.js';
import type { ProxyOptions } from '../../../dist/index.js';

// The compiler checks that this lists exactly the keys of ProxyOptions.
const OPTION_KEYS: { readonly [K in keyof Required<ProxyOptions>]: true } = {
  mode: true, port: true, host: true, url: true, command: true, stdioPool: true, eventBuffer: true, upstream: true, upstreamTls: true, upstreamCa: true, upstreamInsecure: true,
  upstreamHeader: true, multiSession: true, upstreamPool: true, workers: true, recoverSessions: true, upstreamTransport: true, serveSse: true, allowedOrigins: true, allowedHosts: true, cors: true, authKeys: true, authJwt: true, authJwks: true, authIssuer: true, authAudience: true, authScopes: true, auth: true, forwardClientAuth: true, maxSessions: true, maxPerClient: true, sessionTimeout: true,
  headerTimeout: true, bodyTimeout: true, maxHeaderSize: true, maxBodySize: true, connectTimeout: true, upstreamTimeout: true,
  shutdownTimeout: true, inspectLimit: true, rateLimit: true, policy: true, record: true, recordQueue: true, adminPort: true, adminHost: true, adminToken: true,
  logLevel: true, logger: true, hooks: true,
};

const options = suite('startProxy options');

options('every network flag is an option and every option a flag', () => {
  const flags = FLAGS.filter((f) => f.name !== 'config' && (f.modes.includes('http') || f.modes.includes('tcp'))).map((f) => camelName(f.name));
  const keys = Object.keys(OPTION_KEYS).filter((k) => k !== 'mode' && k !== 'logger' && k !== 'hooks' && k !== 'command' && k !== 'auth');
  assert.equal([...keys].sort(), [...flags].sort());
});

options.run();
