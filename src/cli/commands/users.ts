import { Dataset } from "../../core/data/dataset.js";
import { DIMENSIONS } from "../../core/data/schema.js";
import { choiceOption, parse, table, UsageError, type CliCommand } from "../command.js";

const help = `Usage: preflab users DIR [--dimension d] [--json]

Lists the synthetic users of a built dataset: id, dimension, the preference they hold
(subdimension and preference), how many history pairs they have and their mean similarity.

Options:
  --dimension d   only users of one dimension: ${DIMENSIONS.join(", ")}
  --json          one JSON array of users without history texts
`;

export const usersCommand: CliCommand = {
  name: "users",
  summary: "list the synthetic users of a dataset",
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { dimension: { type: "string" }, json: { type: "boolean" } });
    if (positionals.length !== 1) throw new UsageError("expected one dataset directory");
    const dimension = values.dimension === undefined ? undefined : choiceOption(values.dimension, "dimension", DIMENSIONS, "style");
    const ds = await Dataset.open(positionals[0]!);
    const rows = [];
    for (const u of await ds.userSummaries()) {
      if (dimension && u.dimension !== dimension) continue;
      rows.push({ id: u.id, tripleId: u.tripleId, member: u.member, dimension: u.dimension, preference: u.preference, historySize: u.historySize, meanScore: Math.round(u.meanScore * 1000) / 1000 });
    }
    if (values.json) {
      io.out(JSON.stringify(rows, null, 2) + "\n");
      return 0;
    }
    io.out(
      table(
        ["user", "dimension", "subdimension", "preference", "history", "similarity"],
        rows.map((r) => [r.id, r.dimension, r.preference.subdimension, r.preference.preference, r.historySize, r.meanScore.toFixed(3)]),
      ),
    );
    io.out(`${rows.length} user(s)\n`);
    return 0;
  },
};
