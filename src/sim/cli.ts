/**
 * `npm run sim -- --scenario file.yaml --time-scale 0.1 --port 8080 --seed 7`
 *
 * Starts the simulated cloud and prints the OS_* variables that point the `openstack`/`nova`
 * CLIs (or the bot) at it. Runs until interrupted.
 */
import { parseArgs } from 'node:util';
import { startSimCloud, type SimCloud } from './index.js';

const usage = `usage: npm run sim -- [--scenario FILE] [--time-scale N] [--port N] [--host ADDR] [--seed N]
                         [--service-down-time SECONDS] [--token-ttl SECONDS]

  --scenario           YAML/JSON scenario file (default: src/sim/scenarios/default.yaml)
  --time-scale         multiplies every simulated duration (0.1 = ten times faster; default 1)
  --port               listen port (default 8080; 0 picks a free one)
  --host               listen address (default 127.0.0.1)
  --seed               seed for fault injection and failure rates (default 1)
  --service-down-time  Nova's service_down_time in simulated seconds (default 60)
  --token-ttl          Keystone token lifetime in real seconds (default 3600)`;

function numberOption(
  name: string,
  value: string | undefined,
  check: (n: number) => boolean,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || !check(n)) {
    throw new Error(`--${name}: invalid value "${value}"`);
  }
  return n;
}

export function osEnvironment(sim: SimCloud): Record<string, string> {
  const c = sim.credentials;
  return {
    OS_AUTH_URL: c.authUrl,
    OS_IDENTITY_API_VERSION: '3',
    OS_AUTH_TYPE: 'password',
    OS_USERNAME: c.username,
    OS_PASSWORD: c.password,
    OS_PROJECT_NAME: c.projectName,
    OS_USER_DOMAIN_NAME: c.userDomainName,
    OS_PROJECT_DOMAIN_NAME: c.projectDomainName,
    OS_REGION_NAME: c.regionName,
    OS_INTERFACE: 'public',
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      'time-scale': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      seed: { type: 'string' },
      'service-down-time': { type: 'string' },
      'token-ttl': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const timeScale = numberOption('time-scale', values['time-scale'], (n) => n > 0);
  const port = numberOption('port', values.port ?? '8080', (n) => Number.isInteger(n) && n >= 0 && n < 65536);
  const seed = numberOption('seed', values.seed, Number.isInteger);
  const serviceDownTimeSeconds = numberOption(
    'service-down-time',
    values['service-down-time'],
    (n) => n >= 0,
  );
  const tokenTtlSeconds = numberOption('token-ttl', values['token-ttl'], (n) => n > 0);

  const sim = await startSimCloud({
    ...(values.scenario !== undefined ? { scenario: values.scenario } : {}),
    ...(timeScale !== undefined ? { timeScale } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(serviceDownTimeSeconds !== undefined ? { serviceDownTimeSeconds } : {}),
    ...(tokenTtlSeconds !== undefined ? { tokenTtlSeconds } : {}),
  });
  const env = osEnvironment(sim);
  const state = sim.control.state();
  console.log(`# simulated OpenStack "${sim.scenario.name}" listening on ${sim.url}`);
  console.log(
    `# ${state.hosts.length} hosts, ${state.servers.length} servers; control API: ${sim.url}/_sim/state`,
  );
  console.log('# paste into a shell to use the openstack/nova CLIs against it:');
  for (const [key, value] of Object.entries(env)) console.log(`export ${key}=${value}`);
  if (sim.applicationCredential) {
    console.log(
      `# application credential: id ${sim.applicationCredential.id}, secret ${sim.applicationCredential.secret}`,
    );
  }

  const stop = () => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`sim: ${(err as Error).message}`);
  console.error(usage);
  process.exit(2);
});
