import { Dataset } from "../../core/data/dataset.js";
import { parse, UsageError, type CliCommand } from "../command.js";

const help = `Usage: preflab show DIR ID [--json]

Prints one item of a built dataset, with its texts, by id:
  te-0123456789abcdef              a counterfactual (test) triple: the instruction, then for each
                                   of its three members the preference on every dimension and
                                   the golden response
  tr-0123456789abcdef              a train triple (instruction, preferences, responses)
  tr-0123456789abcdef.0v2          a train pair (chosen member 0, rejected member 2)
  te-0123456789abcdef.1.style      a synthetic user with its feedback history

Options:
  --json   the item as JSON (pairs and histories with their texts)
`;

export const showCommand: CliCommand = {
  name: "show",
  summary: "print one triple, pair or user of a dataset",
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { json: { type: "boolean" } });
    if (positionals.length !== 2) throw new UsageError("expected a dataset directory and an id");
    const [dir, id] = positionals as [string, string];
    const ds = await Dataset.open(dir);
    const json = (v: unknown) => {
      io.out(JSON.stringify(v, null, 2) + "\n");
      return 0;
    };
    if (/^tr-[0-9a-f]{16}\.[0-2]v[0-2]$/.test(id)) {
      const p = await ds.pair(id);
      if (!p) throw new Error(`no train pair "${id}" in ${dir}`);
      if (values.json) return json(p);
      io.out(`Pair ${p.id} (train triple ${p.tripleId}: member ${p.chosenMember} chosen, member ${p.rejectedMember} rejected)\n\nInstruction:\n${p.prompt}\n`);
      io.out(`\n=== Chosen ===\n${p.chosen}\n\n=== Rejected ===\n${p.rejected}\n`);
      return 0;
    }
    if (/^te-[0-9a-f]{16}\.[0-2]\.\w+$/.test(id)) {
      const u = await ds.user(id);
      if (!u) throw new Error(`no user "${id}" in ${dir} (see \`preflab users\`)`);
      if (values.json) return json(u);
      io.out(`User ${u.id} (triple ${u.tripleId}, member ${u.member}, ${u.dimension}: ${u.preference.subdimension} · ${u.preference.preference})\n`);
      u.history.forEach((h, i) => io.out(`\n=== History ${i + 1} of ${u.history.length}: ${h.pairId} (score ${h.score.toFixed(3)}) ===\nInstruction:\n${h.prompt}\n\nChosen:\n${h.chosen}\n\nRejected:\n${h.rejected}\n`));
      return 0;
    }
    const t = id.startsWith("tr-") ? await ds.trainTriple(id) : await ds.triple(id);
    if (!t) throw new Error(`no triple "${id}" in ${dir} (ids look like te-0123456789abcdef; see \`preflab users\`)`);
    if (values.json) return json(t);
    io.out(`Triple ${t.id}\n\nInstruction:\n${t.prompt}\n`);
    t.members.forEach((m, j) => {
      io.out(`\n=== Member ${j} ===\n`);
      for (const e of m.preference_set) io.out(`  ${e.dimension}: ${e.subdimension} · ${e.preference}\n`);
      io.out(`\n${m.response}\n`);
    });
    return 0;
  },
};
