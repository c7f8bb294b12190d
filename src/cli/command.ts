/** What every `preflab` sub-command provides; src/cli/main.ts holds the one list of them. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { DIMENSIONS, type Dimension } from "../core/data/schema.js";

export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

export interface CliCommand {
  name: string;
  summary: string;
  /** Full help text printed by `preflab NAME --help`. */
  help: string;
  run(argv: string[], io: CliIO): Promise<number>;
}

/** A usage error: main prints its one-line message and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** node:util parseArgs, with unknown options and bad values reported as UsageError. */
export function parse<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function intOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

export function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${value}"`);
  return n;
}

export function choiceOption<T extends string>(value: string | undefined, name: string, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got "${value}"`);
  return value as T;
}

/** `--dimensions d1,d2`: undefined when absent. */
export function dimensionsOption(value: string | undefined): Dimension[] | undefined {
  if (value === undefined) return undefined;
  const dims = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const d of dims) if (!(DIMENSIONS as readonly string[]).includes(d)) throw new UsageError(`--dimensions: unknown dimension "${d}" (${DIMENSIONS.join(", ")})`);
  if (dims.length === 0) throw new UsageError("--dimensions needs at least one dimension");
  return dims as Dimension[];
}

/** Render rows as an aligned text table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n") + "\n";
}
