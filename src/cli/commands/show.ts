import { Dataset } from "../../core/data/dataset.js";
import { parse, UsageError, type CliCommand } from "../command.js";

const help = `Usage: preflab show DIR TRIPLE_ID [--json]

Prints one counterfactual triple: the instruction, then for each of its three members the
preference on every dimension and the golden response.

Options:
  --json   the triple as JSON
`;

export const showCommand: CliCommand = {
  name: "show",
  summary: "print one counterfactual triple",
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { json: { type: "boolean" } });
    if (positionals.length !== 2) throw new UsageError("expected a dataset directory and a triple id");
    const ds = await Dataset.open(positionals[0]!);
    const t = await ds.triple(positionals[1]!);
    if (!t) throw new Error(`no triple "${positionals[1]}" in ${positionals[0]} (ids look like te-0123456789abcdef; see \`preflab users\`)`);
    if (values.json) {
      io.out(JSON.stringify(t, null, 2) + "\n");
      return 0;
    }
    io.out(`Triple ${t.id}\n\nInstruction:\n${t.prompt}\n`);
    t.members.forEach((m, j) => {
      io.out(`\n=== Member ${j} ===\n`);
      for (const e of m.preference_set) io.out(`  ${e.dimension}: ${e.subdimension} · ${e.preference}\n`);
      io.out(`\n${m.response}\n`);
    });
    return 0;
  },
};
