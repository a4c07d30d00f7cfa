#!/usr/bin/env node
/**
 * `npx dni-actors <command> [options]`: the package's commands (the `bin` of package.json).
 * `inspect TRACE.jsonl`: the trace viewer; `stage --nats-servers URL`: a stage host for the nats scheduler. A command is a name, one line
 * of help and a function of the arguments after it, loaded only when it runs.
 */
import { type CommandHelp, asksForHelp, helpText } from '../lib/io/help.ts';

interface Command {
  about: string;
  run(argv: readonly string[], invokedAs: string): Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  inspect: {
    about: 'serve the trace viewer for a trace recorded with --trace or createTraceRecorder (TRACE.jsonl)',
    run: async (argv, invokedAs) => (await import('../tools/inspector/inspectCommand.ts')).inspectCommand(argv, invokedAs),
  },
  stage: {
    about: 'a stage host: offer stage capacity to trainings that reach the same NATS servers (--nats-servers URL)',
    run: async (argv) => (await import('./stage.ts')).main([...argv]),
  },
};

const help: CommandHelp = {
  usage: 'npx dni-actors <command> [options]',
  about: "The dni-actors package's commands. `npx dni-actors <command> --help` says what one does and how long it takes.",
  options: Object.entries(COMMANDS).map(([name, c]) => [name, c.about] as const),
  takes: 'no time itself: each command says in its --help',
};

const [name, ...argv] = process.argv.slice(2);
if (name === undefined || asksForHelp([name])) {
  (name ? process.stdout : process.stderr).write(`${helpText(help)}\n`);
  process.exit(name ? 0 : 2);
}
const command = COMMANDS[name];
if (!command) {
  process.stderr.write(`dni-actors: no command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')}; see --help)\n`);
  process.exit(2);
}
await command.run(argv, `npx dni-actors ${name}`);
