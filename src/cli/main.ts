/** The `preflab` command line over src/core. One list of commands; each lives in ./commands. */
import { Redactor } from "../core/util/redact.js";
import { UsageError, type CliCommand, type CliIO } from "./command.js";
import { buildCommand } from "./commands/build.js";
import { usersCommand } from "./commands/users.js";
import { showCommand } from "./commands/show.js";
import { runPromptsCommand } from "./commands/run-prompts.js";
import { generateCommand, judgeCommand, rmCommand } from "./commands/eval.js";
import { compareCommand, reportCommand } from "./commands/report.js";
import { exportCommand } from "./commands/export.js";
import { rsCommand } from "./commands/rs.js";
import { finetuneCommand } from "./commands/finetune.js";
import { runCommand } from "./commands/run.js";

export const commands: CliCommand[] = [
  buildCommand,
  usersCommand,
  showCommand,
  runPromptsCommand,
  rmCommand,
  generateCommand,
  judgeCommand,
  reportCommand,
  compareCommand,
  exportCommand,
  rsCommand,
  finetuneCommand,
  runCommand,
];

const defaultIO: CliIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

function usage(): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    "Usage: preflab <command> [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    "",
    "Run `preflab <command> --help` for a command's options.",
    "",
  ].join("\n");
}

/** Runs one CLI invocation and returns the exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: string[], ioIn: CliIO = defaultIO): Promise<number> {
  // Everything printed passes the one redactor (every key variable of the environment).
  const redactor = Redactor.fromEnvironment(process.env);
  const io: CliIO = { out: (t) => ioIn.out(redactor.redact(t)), err: (t) => ioIn.err(redactor.redact(t)) };
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(usage());
    return name ? 0 : 2;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.err(`preflab: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(cmd.help.endsWith("\n") ? cmd.help : cmd.help + "\n");
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    io.err(`preflab ${name}: ${msg.split("\n")[0]}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
