/**
 * npx dni-actors stage --nats-servers nats://HOST:4222 [--name NAME] [--threads N] [--prefix P] [auth, TLS]
 * (in the repository: npm run stage -- …)
 *
 * A stage host: offers stage capacity to any training that reaches the same NATS servers (the
 * `nats` scheduler). It prints one line when it is ready, and stops cleanly on SIGTERM or Ctrl+C:
 * the stages it runs end (their trainings fail, naming this host), and it leaves the servers.
 * A bad argument or a server it cannot reach: one line on stderr, exit code 2 (1 for a connection
 * that failed after the arguments were good).
 */
import { parseArgs } from 'node:util';
import type { NatsHostOptions } from '../actors/nats/natsHost.ts';
import { isConnectTimeout } from '../actors/nats/natsProtocol.ts';
import { type CommandHelp, exitOnHelp } from '../lib/io/help.ts';

const HELP: CommandHelp = {
  usage: 'npx dni-actors stage --nats-servers nats://HOST:4222[,nats://…] [options]   (in this repository: npm run stage -- …)',
  about: 'A stage host: serves stages to trainings run with --scheduler nats (or { name: "nats", servers }) under the same prefix.',
  options: [
    ['--nats-servers URL,…', 'the NATS servers (required)'],
    ['--name NAME', 'how trainings name this host (default: hostname-pid; letters, digits, - and _)'],
    ['--threads N', 'stages it runs at once, one worker thread each (default 1)'],
    ['--prefix PREFIX', 'the subject prefix it serves (default dni)'],
    ['--nats-user USER --nats-pass PASS', 'user and password'],
    ['--nats-token TOKEN', 'a token'],
    ['--nats-nkey SEED_OR_FILE', 'an NKey seed, or a file holding one'],
    ['--nats-creds FILE', 'a creds file'],
    ['--nats-tls-ca FILE', "TLS: the servers' CA"],
    ['--nats-tls-cert FILE --nats-tls-key FILE', 'TLS: a client certificate and its key'],
    ['--nats-connect-timeout MS', 'how long connecting may take before it gives up, exit 1 (default 60000)'],
    ['--quiet', 'print only the ready line'],
  ],
  takes: 'as long as it serves: it runs until SIGTERM or Ctrl+C',
  notes: ['Exit codes: 0 stopped, 1 lost or refused by the servers, 2 a bad argument.'],
};

class UsageError extends Error {}

export function parseStageArgs(argv: string[]): NatsHostOptions & { quiet: boolean } {
  let v;
  try {
    v = parseArgs({
      args: argv,
      strict: true,
      options: {
        'nats-servers': { type: 'string' },
        name: { type: 'string' },
        threads: { type: 'string' },
        prefix: { type: 'string' },
        'nats-user': { type: 'string' },
        'nats-pass': { type: 'string' },
        'nats-token': { type: 'string' },
        'nats-nkey': { type: 'string' },
        'nats-creds': { type: 'string' },
        'nats-tls-ca': { type: 'string' },
        'nats-tls-cert': { type: 'string' },
        'nats-tls-key': { type: 'string' },
        'nats-connect-timeout': { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (v.help) exitOnHelp(['--help'], HELP);
  const servers = (v['nats-servers'] ?? '').split(',').filter(Boolean);
  if (servers.length === 0) throw new UsageError('--nats-servers is required (e.g. --nats-servers nats://10.0.0.1:4222)');
  for (const s of servers)
    if (!/^(nats|tls|wss?):\/\/[^\s]+$|^[^\s:/]+(:\d+)?$/.test(s))
      throw new UsageError(`--nats-servers: '${s}' is no server address (nats://HOST:PORT)`);
  const threads = v.threads === undefined ? 1 : Number(v.threads);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256)
    throw new UsageError(`--threads must be an integer from 1 to 256, got '${v.threads}'`);
  const connectTimeoutMs = v['nats-connect-timeout'] === undefined ? undefined : Number(v['nats-connect-timeout']);
  if (connectTimeoutMs !== undefined && !isConnectTimeout(connectTimeoutMs))
    throw new UsageError(`--nats-connect-timeout must be an integer from 1 to 3600000 (ms), got '${v['nats-connect-timeout']}'`);
  if (v['nats-user'] !== undefined && v['nats-pass'] === undefined) throw new UsageError('--nats-user needs --nats-pass');
  if ((v['nats-tls-cert'] === undefined) !== (v['nats-tls-key'] === undefined))
    throw new UsageError('--nats-tls-cert and --nats-tls-key go together');
  const tls =
    v['nats-tls-ca'] || v['nats-tls-cert']
      ? { caFile: v['nats-tls-ca'], certFile: v['nats-tls-cert'], keyFile: v['nats-tls-key'] }
      : undefined;
  return {
    servers,
    name: v.name,
    threads,
    prefix: v.prefix,
    user: v['nats-user'],
    pass: v['nats-pass'],
    token: v['nats-token'],
    nkey: v['nats-nkey'],
    creds: v['nats-creds'],
    tls,
    connectTimeoutMs,
    quiet: Boolean(v.quiet),
  };
}

export async function main(argv: string[]): Promise<void> {
  exitOnHelp(argv, HELP);
  let options;
  try {
    options = parseStageArgs(argv);
  } catch (e) {
    process.stderr.write(`stage: ${(e as Error).message}\n${e instanceof UsageError ? 'see: npx dni-actors stage --help\n' : ''}`);
    process.exit(2);
  }
  const { serveStages } = await import('../actors/nats/natsHost.ts');
  const { quiet, ...o } = options;
  let host: Awaited<ReturnType<typeof serveStages>> | null = null;
  let stopping = false;
  // from the start: a signal while it connects ends it at once, one once it serves ends its stages first
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (!quiet) process.stderr.write(`stage: ${signal}: stopping\n`);
    if (!host) process.exit(0);
    void host.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    host = await serveStages({ ...o, log: quiet ? undefined : (line) => process.stderr.write(`stage: ${line}\n`) });
  } catch (e) {
    process.stderr.write(`stage: ${(e as Error).message}\n`);
    process.exit(e instanceof RangeError ? 2 : 1);
  }
  if (stopping) return void host.close().then(() => process.exit(0));
  process.stdout.write(
    `stage host ${host.name} ready: dni-actors ${host.version}, ${o.threads} thread(s), prefix '${o.prefix ?? 'dni'}', server ` +
      `${host.server} (max_payload ${host.maxPayload} bytes)\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
