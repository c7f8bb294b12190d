import { buildDataset } from "../../core/data/builder.js";
import type { Manifest } from "../../core/data/types.js";
import { choiceOption, intOption, parse, table, UsageError, type CliCommand, type CliIO } from "../command.js";

const help = `Usage: preflab build --train PATH --test PATH --out DIR [options]

Builds a counterfactual dataset from MultiFacet rows: test triples (one instruction, three
preference sets, three golden responses), train preference pairs, and synthetic users with
feedback histories retrieved from the train pairs (paper section 3.1).

PATH is a .jsonl, .json or .parquet file, a directory of shards, or a glob (quote it).

Options:
  --train PATH            MultiFacet collection rows (train split)
  --test PATH             Multifaceted-Bench rows (test split)
  --out DIR               output directory (written atomically)
  --history-size N        pairs per feedback history (default 10)
  --history MODE          per-example (default): one retrieval per user;
                          fixed: one history per (dimension, subdimension, preference), reused
  --pairs one|all         rejected side per chosen member: one other member (seeded, default) or both
  --seed N                random seed (default 0)
  --force                 replace DIR if it exists (only once the new build is complete)
  --json                  print the manifest as JSON
`;

export function printManifest(m: Manifest, out: string, io: CliIO): void {
  io.out(`Built ${out}\n\n`);
  io.out(
    table(
      ["", "train", "test"],
      [
        ["rows", m.counts.trainRows, m.counts.testRows],
        ["triples", m.counts.trainTriples, m.counts.testTriples],
        ["skipped groups (size != 3)", m.skipped.trainGroups, m.skipped.testGroups],
        ["pairs", m.counts.trainPairs, "-"],
        ["synthetic users", "-", m.counts.users],
      ],
    ),
  );
  io.out(`\nhistory: ${m.historyMode}, ${m.historySize} pairs per user; pairs: ${m.pairsMode}; seed ${m.seed}\n`);
  if (m.shortHistories.length > 0) {
    io.out(`\n${m.shortHistories.length} user(s) got fewer than ${m.historySize} matching pairs:\n`);
    for (const s of m.shortHistories.slice(0, 20)) io.out(`  ${s.userId}: ${s.found} of ${s.wanted}\n`);
    if (m.shortHistories.length > 20) io.out(`  ... and ${m.shortHistories.length - 20} more (see manifest.json)\n`);
  } else {
    io.out(`every user has a full history of ${m.historySize} pairs\n`);
  }
  const nc = m.nonContrastive;
  if (nc && Object.values(nc).some((n) => n > 0)) {
    const per = Object.entries(nc).map(([d, n]) => `${d} ${n}`).join(", ");
    io.out(`test pairs whose two members state the same preference on the user's dimension: ${per} (manifest.json nonContrastive)\n`);
  }
}

export const buildCommand: CliCommand = {
  name: "build",
  summary: "build triples, preference pairs and synthetic users from MultiFacet data",
  help,
  async run(argv, io) {
    const { values } = parse(argv, {
      train: { type: "string" },
      test: { type: "string" },
      out: { type: "string" },
      "history-size": { type: "string" },
      history: { type: "string" },
      pairs: { type: "string" },
      seed: { type: "string" },
      force: { type: "boolean" },
      json: { type: "boolean" },
    }, false);
    for (const k of ["train", "test", "out"] as const) if (!values[k]) throw new UsageError(`--${k} is required`);
    const started = Date.now();
    const { out, manifest } = await buildDataset({
      train: values.train!,
      test: values.test!,
      out: values.out!,
      historySize: intOption(values["history-size"], "history-size", 10, 1),
      historyMode: choiceOption(values.history, "history", ["per-example", "fixed"] as const, "per-example"),
      pairs: choiceOption(values.pairs, "pairs", ["one", "all"] as const, "one"),
      seed: intOption(values.seed, "seed", 0),
      force: values.force,
      onProgress: values.json ? undefined : (e) => io.err(`  ${e.phase}: ${e.done}${e.total ? ` / ${e.total}` : ""}\r`),
    });
    if (values.json) io.out(JSON.stringify(manifest, null, 2) + "\n");
    else {
      io.err("\n");
      printManifest(manifest, out, io);
      io.out(`(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    }
    return 0;
  },
};
