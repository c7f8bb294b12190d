/**
 * Runs a FakeApiServer as its own process (for benchmarks and manual tries):
 *   node --import tsx test/servers/serve.ts [--instant] [--latency-ms N]
 * Prints one JSON line `{"url": ..., "openaiBaseUrl": ..., "anthropicBaseUrl": ...}` once listening,
 * and exits on SIGTERM / SIGINT or when stdin closes.
 */
import { parseArgs } from "node:util";
import { FakeApiServer } from "./fake-apis.js";

const { values } = parseArgs({ options: { instant: { type: "boolean" }, "latency-ms": { type: "string" } } });
void (async () => {
  const api = await FakeApiServer.start({ instant: values.instant ?? false, latencyMs: Number(values["latency-ms"] ?? 0) });
  process.stdout.write(JSON.stringify({ url: api.url, openaiBaseUrl: api.openaiBaseUrl, anthropicBaseUrl: api.anthropicBaseUrl }) + "\n");
  const stop = () => void api.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdin.on("end", stop);
  process.stdin.resume();
})();
