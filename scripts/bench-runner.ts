/**
 * Batch runner throughput: 5,000 chat completions at concurrency 64 through the real OpenAI
 * provider (official SDK) and the runner (run log on, response cache off), against the instant
 * test server running in its own process, so the CPU figure is the client's alone.
 *
 *   npx tsx scripts/bench-runner.ts [--requests N] [--concurrency N]
 *
 * Budget: >= 1,000 requests/s. Prints one line per figure.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { OpenAIProvider } from "../src/core/providers/openai.js";
import { runBatch, type RunItem } from "../src/core/eval/runner.js";

const BUDGET_RPS = 1000;

async function startServer(): Promise<{ baseUrl: string; stop: () => void }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "../test/servers/serve.ts"), "--instant"], { stdio: ["pipe", "pipe", "inherit"] });
  const rl = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`test server exited (${code})`)));
  });
  rl.close();
  const { openaiBaseUrl } = JSON.parse(first) as { openaiBaseUrl: string };
  return { baseUrl: openaiBaseUrl, stop: () => child.kill("SIGTERM") };
}

function makeItems(n: number, tag: string): RunItem[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${tag}-${i}`,
    request: { messages: [{ role: "system" as const, content: "You are a helpful assistant." }, { role: "user" as const, content: `Benchmark prompt ${tag} ${i}: say ok.` }] },
    userKey: `user-${i % 50}`,
  }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { requests: { type: "string" }, concurrency: { type: "string" } } });
  const requests = Number(values.requests ?? 5000);
  const concurrency = Number(values.concurrency ?? 64);
  const server = await startServer();
  const dir = await mkdtemp(path.join(os.tmpdir(), "preflab-bench-runner-"));
  try {
    const provider = new OpenAIProvider({ provider: "openai", model: "gpt-bench", apiKey: "sk-bench", baseUrl: server.baseUrl }, "openai");
    const options = (runDir: string) => ({
      concurrency,
      timeoutMs: 30_000,
      maxRetries: 2,
      cacheDir: false as const,
      runDir,
      meta: { provider: "openai", model: "gpt-bench", params: {} },
    });
    // Warm-up: JIT, connection pool.
    await runBatch(makeItems(500, "warm"), provider, options(path.join(dir, "warm")));

    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const s = await runBatch(makeItems(requests, "run"), provider, options(path.join(dir, "run")));
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (s.totals.done !== requests) throw new Error(`only ${s.totals.done}/${requests} requests succeeded (${s.totals.failed} failed)`);
    const rps = requests / (wallMs / 1000);
    const cpuMsPerRequest = (cpu.user + cpu.system) / 1000 / requests;
    process.stdout.write(`bench-runner: ${requests} requests, concurrency ${concurrency}, openai SDK -> instant server (own process), cache off, run log on\n`);
    process.stdout.write(`wall time: ${wallMs.toFixed(0)} ms\n`);
    process.stdout.write(`requests/s: ${rps.toFixed(0)} (budget >= ${BUDGET_RPS}: ${rps >= BUDGET_RPS ? "ok" : "MISSED"})\n`);
    process.stdout.write(`cpu ms/request: ${cpuMsPerRequest.toFixed(3)} (user ${(cpu.user / 1000 / requests).toFixed(3)}, system ${(cpu.system / 1000 / requests).toFixed(3)})\n`);
    process.exitCode = rps >= BUDGET_RPS ? 0 : 1;
  } finally {
    server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => {
  process.stderr.write(`bench-runner: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
