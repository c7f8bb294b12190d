/**
 * Writes schemas/preflab-experiment.schema.json from the zod schema of experiment files
 * (src/core/experiment/schema.ts). package.json contributes it through `yamlValidation`, so the
 * YAML extension validates and completes `*.preflab.yaml`. A unit test checks it is current.
 *   npx tsx scripts/experiment-schema.ts
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { experimentJsonSchema } from "../src/core/experiment/schema.js";

export const SCHEMA_FILE = path.join("schemas", "preflab-experiment.schema.json");

export function schemaText(): string {
  return JSON.stringify(experimentJsonSchema(), null, 2) + "\n";
}

if (process.argv[1]?.endsWith("experiment-schema.ts")) {
  writeFileSync(SCHEMA_FILE, schemaText());
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}
