'use strict';
/*
 * A minimal NestJS app behind the real @nestjs/throttler: the reference that FakeMeetergo's
 * NestThrottler is checked against (tests/nest) and the "real" server of bench/ratelimit.py.
 * Plain CommonJS with Nest's decorators applied by hand, so nothing is compiled. See README.md.
 *
 * Options, as --name=value (or --name value) arguments or NEST_<NAME> environment variables
 * (upper case, '-' as '_'); arguments win:
 *   --port=0              TCP port; 0 picks a free one. The first stdout line is the bound URL.
 *   --host=127.0.0.1      address to bind
 *   --connections=0       seed connections conn-0000, conn-0001, ...
 *   --limit=100           requests per ttl, per key
 *   --ttl=60000           the throttler's ttl in MILLISECONDS (as @nestjs/throttler 6 takes it)
 *   --block=<ttl>         blockDuration in milliseconds; unset: ttl (the throttler's default);
 *                         0: no block (6.7.1 then refuses without counting)
 *   --headers=on          off: setHeaders: false (no X-RateLimit-* and no Retry-After)
 *   --name=               throttler name; a name other than "default" suffixes every header
 *   --key=credential      credential: one budget per bearer token across both routes (as
 *                         FakeMeetergo counts); route: the throttler's own generateKey, which
 *                         also keys on controller and handler, so each route has its budget
 *   --fake-clock=off      on: Date is faked (@sinonjs/fake-timers) and starts at --now; time
 *                         moves only by POST /__clock {"tick": ms} or {"set": epochMs}
 *   --now=1700000000000   the fake clock's start, epoch milliseconds
 *   --keep-alive=75000    the HTTP server's keepAliveTimeout in ms (aiohttp's server: 75 s)
 *   --trace=off           on: record every request's timings, read (and cleared) at GET /__trace
 */

const FakeTimers = require('@sinonjs/fake-timers');

function readOptions(argv, env) {
  const options = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('NEST_')) {
      options[name.slice(5).toLowerCase().replace(/_/g, '-')] = value;
    }
  }
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      throw new Error(`unexpected argument ${JSON.stringify(arg)}`);
    }
    const equals = arg.indexOf('=');
    if (equals >= 0) {
      options[arg.slice(2, equals)] = arg.slice(equals + 1);
    } else {
      i += 1;
      if (i >= argv.length) throw new Error(`${arg} needs a value`);
      options[arg.slice(2)] = argv[i];
    }
  }
  const known = new Set(['port', 'host', 'connections', 'limit', 'ttl', 'block', 'headers',
    'name', 'key', 'fake-clock', 'now', 'keep-alive', 'trace']);
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new Error(`unknown option --${name}`);
  }
  const integer = (name, fallback, minimum) => {
    const raw = options[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < minimum) {
      throw new Error(`--${name} must be an integer >= ${minimum}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const flag = (name, fallback) => {
    const raw = options[name];
    if (raw === undefined || raw === '') return fallback;
    if (['on', 'true', '1', 'yes'].includes(raw)) return true;
    if (['off', 'false', '0', 'no'].includes(raw)) return false;
    throw new Error(`--${name} must be on or off, got ${JSON.stringify(raw)}`);
  };
  const ttl = integer('ttl', 60000, 1);
  const key = options.key || 'credential';
  if (key !== 'credential' && key !== 'route') {
    throw new Error(`--key must be credential or route, got ${JSON.stringify(key)}`);
  }
  return {
    port: integer('port', 0, 0),
    host: options.host || '127.0.0.1',
    connections: integer('connections', 0, 0),
    limit: integer('limit', 100, 1),
    ttl,
    block: options.block === undefined || options.block === '' ? undefined
      : integer('block', 0, 0),
    headers: flag('headers', true),
    name: options.name || undefined,
    key,
    fakeClock: flag('fake-clock', false),
    now: integer('now', 1700000000000, 0),
    keepAlive: integer('keep-alive', 75000, 0),
    trace: flag('trace', false),
  };
}

const OPTIONS = readOptions(process.argv.slice(2), process.env);

// The fake clock is installed before Nest loads. Only Date is faked: 6.7.1's storage reads
// time with Date.now() alone (its only timer is a 60 s sweep, a setInterval that evicts idle
// records, which no answer can observe). Node's HTTP internals keep real time: they take Date
// from primordials and their socket and keep-alive timers from internal/timers, so faking the
// global Date leaves keep-alive and the Date response header alone.
const clock = OPTIONS.fakeClock ? FakeTimers.install({ now: OPTIONS.now, toFake: ['Date'] }) : null;

require('reflect-metadata');
const { AsyncLocalStorage } = require('node:async_hooks');
const { performance, monitorEventLoopDelay } = require('node:perf_hooks');
const {
  BadRequestException, Body, ConsoleLogger, Controller, Get, HttpCode, Injectable, Module,
  NotFoundException, Param, Patch, Post, UnauthorizedException,
} = require('@nestjs/common');
const { APP_GUARD, NestFactory } = require('@nestjs/core');
const { ThrottlerGuard, ThrottlerModule } = require('@nestjs/throttler');

// -- decorators by hand (what TypeScript's __decorate does) ----------------------------------

function decorateMethod(cls, method, ...decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, method);
  const result = Reflect.decorate(decorators, cls.prototype, method, descriptor);
  Object.defineProperty(cls.prototype, method, result || descriptor);
}

function decorateParameter(cls, method, index, decorator) {
  decorator(cls.prototype, method, index);
}

// -- the connection store ----------------------------------------------------------------------

const PROVIDERS = ['google', 'outlook', 'icloud', 'caldav', 'exchange'];
const BASE_TIME_MS = Date.UTC(2024, 0, 1);
const FIELDS = {
  primaryCalendar: 'string',
  selectedCalendars: 'string[]',
  validateAvailability: 'boolean',
  cancelIfDeclinedOrDeleted: 'boolean',
  disableAttendeeNotification: 'boolean',
  syncBuffersToCalendar: 'boolean',
};

const store = new Map();
for (let i = 0; i < OPTIONS.connections; i += 1) {
  const id = `conn-${String(i).padStart(4, '0')}`;
  const created = new Date(BASE_TIME_MS + i * 1000).toISOString();
  store.set(id, {
    id,
    provider: PROVIDERS[i % PROVIDERS.length],
    email: `user${String(i).padStart(4, '0')}@example.com`,
    isPrimary: i === 0,
    isConnected: true,
    primaryCalendar: 'primary',
    selectedCalendars: ['primary'],
    validateAvailability: true,
    cancelIfDeclinedOrDeleted: false,
    disableAttendeeNotification: false,
    syncBuffersToCalendar: false,
    createdAt: created,
    updatedAt: created,
  });
}

function fieldErrors(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return ['request body must be a JSON object'];
  }
  const errors = Object.keys(body)
    .filter((name) => !(name in FIELDS))
    .map((name) => `property ${name} should not exist`);
  for (const [name, kind] of Object.entries(FIELDS)) {
    const value = body[name];
    if (value === undefined || value === null) continue;
    if (kind === 'boolean' && typeof value !== 'boolean') {
      errors.push(`${name} must be a boolean value`);
    } else if (kind === 'string' && typeof value !== 'string') {
      errors.push(`${name} must be a string`);
    } else if (kind === 'string[]'
      && !(Array.isArray(value) && value.every((item) => typeof item === 'string'))) {
      errors.push(`${name} must be an array of strings`);
    }
  }
  return errors;
}

// -- tracing (--trace=on): what the guard saw and when -----------------------------------------

const trace = OPTIONS.trace ? { requests: [], connections: 0 } : null;
const loopDelay = OPTIONS.trace ? monitorEventLoopDelay({ resolution: 1 }) : null;
if (loopDelay) loopDelay.enable();

// -- the controllers ---------------------------------------------------------------------------

class ConnectionsController {
  list() {
    return { connections: [...store.values()], total: store.size };
  }

  update(id, body) {
    const errors = fieldErrors(body === undefined ? {} : body);
    if (errors.length) throw new BadRequestException(errors);
    const connection = store.get(id);
    if (!connection) throw new NotFoundException('Connection not found');
    for (const [name, value] of Object.entries(body || {})) {
      if (value !== null && value !== undefined) connection[name] = value;
    }
    connection.updatedAt = new Date().toISOString();
    return connection;
  }
}
Controller('v4/calendar-connections/connections')(ConnectionsController);
decorateMethod(ConnectionsController, 'list', Get());
decorateMethod(ConnectionsController, 'update', Patch(':id'));
decorateParameter(ConnectionsController, 'update', 0, Param('id'));
decorateParameter(ConnectionsController, 'update', 1, Body());

/** The harness's own routes, /__clock and /__trace: never authenticated nor throttled. */
class ControlController {
  now() {
    if (!clock) throw new NotFoundException('the fake clock is off (--fake-clock=on)');
    return { now: Date.now() };
  }

  move(body) {
    if (!clock) throw new NotFoundException('the fake clock is off (--fake-clock=on)');
    const { tick, set } = body || {};
    if (tick !== undefined) {
      if (!Number.isInteger(tick) || tick < 0) {
        throw new BadRequestException('tick must be an integer >= 0 (ms)');
      }
      clock.tick(tick);
    } else if (set !== undefined) {
      if (!Number.isInteger(set) || set < Date.now()) {
        throw new BadRequestException('set must be an integer epoch ms, not in the past');
      }
      clock.setSystemTime(set);
    } else {
      throw new BadRequestException('give {"tick": ms} or {"set": epochMs}');
    }
    return { now: Date.now() };
  }

  readTrace() {
    if (!trace) throw new NotFoundException('tracing is off (--trace=on)');
    const taken = {
      requests: trace.requests,
      connections: trace.connections,
      loopDelayMs: {
        mean: loopDelay.mean / 1e6,
        p50: loopDelay.percentile(50) / 1e6,
        p99: loopDelay.percentile(99) / 1e6,
        max: loopDelay.max / 1e6,
      },
    };
    trace.requests = [];
    trace.connections = 0;
    loopDelay.reset();
    return taken;
  }
}
Controller('__')(ControlController);
decorateMethod(ControlController, 'now', Get('clock'));
decorateMethod(ControlController, 'move', Post('clock'), HttpCode(200));
decorateParameter(ControlController, 'move', 0, Body());
decorateMethod(ControlController, 'readTrace', Get('trace'));

// -- the guards --------------------------------------------------------------------------------

function bearer(req) {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : null;
}

function isControl(req) {
  return req.path.startsWith('/__/');
}

/** Any bearer token is accepted, but one is required: without it, 401 (and nothing counted). */
class BearerGuard {
  canActivate(context) {
    const req = context.switchToHttp().getRequest();
    if (!isControl(req) && bearer(req) === null) throw new UnauthorizedException();
    return true;
  }
}
Injectable()(BearerGuard);

/** The real ThrottlerGuard, keyed per credential: the bearer token is the tracker. */
class CredentialThrottlerGuard extends ThrottlerGuard {
  async onModuleInit() {
    await super.onModuleInit();
    if (trace) this.traceStorage();
  }

  async shouldSkip(context) {
    return isControl(context.switchToHttp().getRequest());
  }

  async getTracker(req) {
    return bearer(req);
  }

  generateKey(context, tracker, name) {
    if (OPTIONS.key === 'route') return super.generateKey(context, tracker, name);
    return `${name}-${tracker}`;
  }

  traceStorage() {
    const storage = this.storageService;
    const increment = storage.increment.bind(storage);
    storage.increment = async (key, ttl, limit, blockDuration, name) => {
      // increment runs to its end synchronously: the Date.now() it reads is this one.
      const guardDate = Date.now();
      const guardPerf = performance.now();
      const result = await increment(key, ttl, limit, blockDuration, name);
      const req = requestContext.getStore();
      if (req && req.trace) {
        Object.assign(req.trace, {
          guardDate,
          guardPerf,
          totalHits: result.totalHits,
          isBlocked: result.isBlocked,
          timeToExpire: result.timeToExpire,
          timeToBlockExpire: result.timeToBlockExpire,
        });
      }
      return result;
    };
  }

  async handleRequest(props) {
    if (!trace) return super.handleRequest(props);
    const req = props.context.switchToHttp().getRequest();
    return requestContext.run(req, () => super.handleRequest(props));
  }
}
Injectable()(CredentialThrottlerGuard);

// Which request a storage.increment call belongs to, across the guard's awaits.
const requestContext = new AsyncLocalStorage();

// -- the app -----------------------------------------------------------------------------------

const throttler = { ttl: OPTIONS.ttl, limit: OPTIONS.limit };
if (OPTIONS.name) throttler.name = OPTIONS.name;
if (OPTIONS.block !== undefined) throttler.blockDuration = OPTIONS.block;

class AppModule {}
Module({
  imports: [ThrottlerModule.forRoot({ throttlers: [throttler], setHeaders: OPTIONS.headers })],
  controllers: [ConnectionsController, ControlController],
  providers: [
    { provide: APP_GUARD, useClass: BearerGuard },
    { provide: APP_GUARD, useClass: CredentialThrottlerGuard },
  ],
})(AppModule);

/** Nest logs to stdout by default; the first stdout line must be the URL, so: stderr. */
class StderrLogger extends ConsoleLogger {
  printMessages(messages, context, logLevel) {
    super.printMessages(messages, context, logLevel, 'stderr');
  }
}

async function main() {
  const app = await NestFactory.create(AppModule, {
    logger: new StderrLogger('nest', { logLevels: ['error', 'warn'] }),
  });
  const server = app.getHttpServer();
  server.keepAliveTimeout = OPTIONS.keepAlive;
  if (trace) {
    server.on('connection', () => { trace.connections += 1; });
    server.prependListener('request', (req, res) => {
      if (isControl({ path: req.url })) return;
      const record = { method: req.method, url: req.url, arrivalDate: Date.now(),
        arrivalPerf: performance.now() };
      req.trace = record;
      trace.requests.push(record);
      res.on('finish', () => {
        record.status = res.statusCode;
        record.finishPerf = performance.now();
      });
    });
  }
  await app.listen(OPTIONS.port, OPTIONS.host);
  const { port } = server.address();
  const host = OPTIONS.host.includes(':') ? `[${OPTIONS.host}]` : OPTIONS.host;
  process.stdout.write(`http://${host}:${port}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
