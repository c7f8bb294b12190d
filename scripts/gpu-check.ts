/**
 * GPU check for the llama.cpp provider (run through scripts/gpu-check.sh on a machine with an NVIDIA
 * GPU). Writes the "1b" synthetic model (16 layers, embd 2048, ff 8192, vocab 32000, F16, ~2.2 GB),
 * loads it with gpu "cuda" and on the CPU, and prints, one per line: the backend, the layers
 * offloaded, prompt and generation tokens/s on each, the GPU/CPU speed-up, and prefix reuse on the
 * GPU. Exits 1 if CUDA is unavailable or nothing was offloaded; `--cpu-only` runs only the CPU part
 * (useful where there is no GPU).
 *
 *   node --import tsx scripts/gpu-check.ts [--cpu-only] [--skip-cpu] [--model PATH] [--keep]
 *       [--prompt-tokens 256] [--gen-tokens 64] [--cpu-gen-tokens 16] [--cpu-threads N]
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { LlamaCppProvider } from "../src/core/providers/llamacpp.js";
import { ProviderError, type ProviderRequest } from "../src/core/providers/types.js";
import { PRESETS, writeTinyGguf } from "./make-gguf.js";

interface Args {
  cpuOnly: boolean;
  skipCpu: boolean;
  model?: string;
  keep: boolean;
  promptTokens: number;
  genTokens: number;
  cpuGenTokens: number;
  cpuThreads: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    cpuOnly: false,
    skipCpu: false,
    keep: false,
    promptTokens: 256,
    genTokens: 64,
    cpuGenTokens: 16,
    cpuThreads: Math.max(1, Math.min(availableParallelism(), 8)),
  };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer, got "${v ?? ""}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    const v = argv[i + 1];
    if (f === "--cpu-only") a.cpuOnly = true;
    else if (f === "--skip-cpu") a.skipCpu = true;
    else if (f === "--keep") a.keep = true;
    else if (f === "--model") {
      if (!v) throw new Error("--model needs a path");
      a.model = v;
      i++;
    } else if (f === "--prompt-tokens") {
      a.promptTokens = num(f, v);
      i++;
    } else if (f === "--gen-tokens") {
      a.genTokens = num(f, v);
      i++;
    } else if (f === "--cpu-gen-tokens") {
      a.cpuGenTokens = num(f, v);
      i++;
    } else if (f === "--cpu-threads") {
      a.cpuThreads = num(f, v);
      i++;
    } else throw new Error(`unknown option ${f}`);
  }
  return a;
}

interface Figures {
  promptTokens: number;
  promptMs: number;
  genTokens: number;
  genMs: number;
}

/** A prompt of about `n` tokens. */
function promptOf(provider: LlamaCppProvider, n: number): ProviderRequest {
  let text = "";
  for (let i = 0; ; i++) {
    text += `Example ${i}: the user liked the short answer with a list and did not like the long story. `;
    const req: ProviderRequest = { messages: [{ role: "user", content: text }], sequenceKey: "check" };
    if (provider.promptTokens(req).length >= n) return req;
  }
}

async function measure(label: string, provider: LlamaCppProvider, promptTokens: number, genTokens: number): Promise<Figures> {
  // Warm-up: first-use costs (graph allocation, CUDA kernels) are not what we measure.
  await provider.call({ messages: [{ role: "user", content: "warm up" }], sequenceKey: "warmup", params: { maxTokens: 2 } }, {});
  const req = promptOf(provider, promptTokens);
  const read = await provider.call({ ...req, probabilities: { candidates: ["A", "B"] } }, {});
  // Same prompt again, now generating: all but the last prompt token come from the cache.
  const gen = await provider.call({ ...req, params: { maxTokens: genTokens, temperature: 0.9, seed: 1 } }, {});
  const f = { promptTokens: read.usage.inputTokens, promptMs: read.latencyMs, genTokens: gen.usage.outputTokens, genMs: gen.latencyMs };
  console.log(
    `${label}: prompt ${f.promptTokens} tokens in ${f.promptMs.toFixed(0)} ms (${((f.promptTokens * 1000) / f.promptMs).toFixed(1)} tokens/s); ` +
      `generation ${f.genTokens} tokens in ${f.genMs.toFixed(0)} ms (${((f.genTokens * 1000) / f.genMs).toFixed(1)} tokens/s)`,
  );
  return f;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  let dir: string | undefined;
  let modelPath = args.model;
  const preset = PRESETS["1b"];
  if (!modelPath) {
    dir = await mkdtemp(join(tmpdir(), "preflab-gpu-check-"));
    modelPath = join(dir, "synthetic-1b.gguf");
    const t0 = Date.now();
    const info = await writeTinyGguf(modelPath, { ...preset, chatTemplate: "llama3" });
    console.log(
      `model: ${modelPath}: ${(info.parameters / 1e9).toFixed(2)}B parameters, ${info.layers} layers, embd ${info.embd}, ` +
        `vocab ${info.vocabSize}, F16, ${(info.bytes / 1e9).toFixed(2)} GB, written in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  } else {
    console.log(`model: ${modelPath} (${((await stat(modelPath)).size / 1e9).toFixed(2)} GB)`);
  }
  const totalLayers = (preset.layers ?? 0) + 1; // blocks + the output layer, as llama.cpp counts them
  let failure: string | undefined;
  let gpu: Figures | undefined;
  let cpu: Figures | undefined;
  try {
    if (!args.cpuOnly) {
      let p: LlamaCppProvider | undefined;
      try {
        const t0 = Date.now();
        p = await LlamaCppProvider.create({ provider: "llamacpp", modelPath, gpu: "cuda", threads: 4, contextSize: 2048, sequences: 1 });
        console.log(`cuda: backend ${String(p.gpu)}, loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        console.log(`cuda: offloaded layers ${p.gpuLayers} of ${totalLayers}`);
        if (p.gpuLayers === 0) failure = "nothing was offloaded to the GPU";
        gpu = await measure("cuda", p, args.promptTokens, args.genTokens);
        // Prefix reuse on the GPU: a second prompt sharing the first one's prefix.
        const req = promptOf(p, args.promptTokens);
        const again = await p.call({ ...req, messages: [{ role: "user", content: req.messages[0]!.content + " And one more question?" }], probabilities: { candidates: ["A", "B"] } }, {});
        console.log(`cuda: second prompt ${again.usage.cachedInputTokens} of ${again.usage.inputTokens} tokens from the cache, ${again.latencyMs.toFixed(1)} ms`);
      } catch (err) {
        const msg = err instanceof ProviderError ? `${err.kind}: ${err.message}` : err instanceof Error ? err.message : String(err);
        failure = `CUDA unavailable: ${msg}`;
        console.log(`cuda: FAILED: ${msg}`);
      } finally {
        await p?.dispose();
      }
    }
    if (!args.skipCpu) {
      const p = await LlamaCppProvider.create({ provider: "llamacpp", modelPath, gpu: false, threads: args.cpuThreads, contextSize: 2048, sequences: 1 });
      try {
        console.log(`cpu: threads ${p.threads}`);
        cpu = await measure("cpu", p, args.promptTokens, args.cpuGenTokens);
      } finally {
        await p.dispose();
      }
    }
    if (gpu && cpu) {
      const rate = (n: number, ms: number): number => (n * 1000) / ms;
      const genUp = rate(gpu.genTokens, gpu.genMs) / rate(cpu.genTokens, cpu.genMs);
      const promptUp = rate(gpu.promptTokens, gpu.promptMs) / rate(cpu.promptTokens, cpu.promptMs);
      console.log(`speed-up cuda/cpu: prompt ${promptUp.toFixed(1)}x, generation ${genUp.toFixed(1)}x`);
    }
  } finally {
    if (dir && !args.keep) await rm(dir, { recursive: true, force: true });
    else if (dir) console.log(`kept ${modelPath}`);
  }
  if (failure) {
    console.log(`gpu-check: FAIL: ${failure}`);
    return 1;
  }
  console.log(args.cpuOnly ? "gpu-check: CPU part OK (CUDA not checked: --cpu-only)" : "gpu-check: PASS");
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`gpu-check: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  },
);
