/** `preflab finetune launch|status|cancel|logs|list|models|register`: remote training jobs and the model registry. */
import path from "node:path";
import type { KeyDestinationPolicy } from "../../app/origins.js";
import { isActive, jobFile, listJobs, loadJob, type JobRecord } from "../../core/finetune/jobs.js";
import { listModels, providerFlags } from "../../core/finetune/models.js";
import { cancelJob, JOB_BACKENDS, JOB_METHODS, jobLogs, launchJob, refreshJob, registerServedModel, serveHint, type LaunchOptions } from "../../core/finetune/launch.js";
import { OPEN_WEIGHT_PRESETS } from "../../core/finetune/trl.js";
import { abortableSleep } from "../../core/util/sleep.js";
import { choiceOption, intOption, numberOption, parse, table, UsageError, type CliCommand, type CliIO } from "../command.js";
import { str, type Values } from "./example-options.js";
import { cliKeyPolicy } from "../provider-options.js";

const FINETUNE_HELP = `Usage: preflab finetune <launch|status|cancel|logs|list|models|register> [options]

Remote fine-tuning jobs: OpenAI fine-tuning for hosted models; TRL (SFTTrainer, DPOTrainer,
RewardTrainer) on a GPU cluster through SkyPilot or Slurm for open-weight models. Jobs are
recorded in .preflab/finetune/jobs/<id>.json under --root (default: the current folder), so
status, logs and cancel work later; a job that succeeds registers its model in
.preflab/models.json, usable by evaluations with the flags \`preflab finetune models\` prints.
JOB is a job id (or a unique prefix), the backend's job id, or the job name.

preflab finetune launch --backend openai|skypilot|slurm --model M --train FILE|EXPORT_DIR [options]
  --method sft|dpo|rm        default: the export folder's; required with a plain file
  --name NAME                job name (default: method-model-xxxxxx)
  --validation FILE          validation JSONL (OpenAI)
  --epochs N                 default: API auto (OpenAI); paper: 1 (SFT, DPO), 3 (RM)
  --batch-size N             OpenAI batch size; open-weight: effective batch (paper: 32 SFT, 64 DPO, 256 RM)
  --lr-multiplier X          OpenAI learning-rate multiplier
  --learning-rate X          open-weight learning rate (default 5e-6, the paper's)
  --beta X                   DPO beta (OpenAI: auto; TRL: 0.1)
  --seed N
  --wait                     poll until the job ends, printing its events / status
 OpenAI (key from OPENAI_API_KEY):
  --suffix S                 suffix of the fine-tuned model name
  --base-url URL             API base URL (default the OpenAI API)
 Open-weight (--model: a Hugging Face id, or ${Object.keys(OPEN_WEIGHT_PRESETS).join(" / ")}):
  --per-device-batch N       default 1 (accumulation makes up the effective batch)
  --max-prompt-length N      default 12800; --max-length N: prompt + response (default + 4096)
  --serve-base-url URL       where the result will be served (vLLM, openai-compatible): registered on success
  --served-model-name NAME   the served model's name (default: the job name)
 SkyPilot (runs \`sky launch\`; HF_TOKEN passed by name when set):
  --cluster NAME             default preflab-xxxxxx;  --accelerators A100:4 (default);  --infra aws|gcp|k8s...
  --output-bucket URL        bucket mounted as the output folder (weights outlive the cluster)
  --autodown-minutes N       tear the cluster down after N idle minutes;  --disk-size GB
 Slurm (runs \`ssh HOST sbatch ...\`; files copied over ssh):
  --host HOST                ssh destination (required), e.g. user@login.cluster
  --remote-dir DIR           job folder on the cluster (default preflab-jobs/<id>, under the remote home)
  --gpus N                   default 4;  --cpus-per-task N;  --time 24:00:00;  --partition P;  --account A
  --setup-file FILE          shell lines run before training (module load, venv activation)

preflab finetune status [JOB] [--watch] [--interval S] [--json]
  Refreshes active jobs from their backends and prints them (all jobs without JOB).
preflab finetune cancel JOB
preflab finetune logs JOB [--follow]
  OpenAI: the job's events; SkyPilot: sky logs; Slurm: the job's output file (tail -F with --follow).
preflab finetune list [--json]            the job records, without asking the backends
preflab finetune models [--json]          trained models in .preflab/models.json, with eval flags
preflab finetune register JOB --base-url URL [--model NAME] [--name NAME]
  Registers where an open-weight job's result is served (openai-compatible; scalar-reward for an RM).

Common: --root DIR (workspace holding .preflab; default the current folder)
        --allow-origin ORIGIN   an OpenAI job record is a workspace file: OPENAI_API_KEY goes to the
                                base URL it names only when that is the official API or this origin
                                (e.g. --allow-origin http://gpu-box:8000); repeatable
`;

const num = (v: Values, k: string): number | undefined => (str(v, k) === undefined ? undefined : numberOption(str(v, k), k, 0));
const int = (v: Values, k: string, min = 1): number | undefined => (str(v, k) === undefined ? undefined : intOption(str(v, k), k, 0, min));

function jobRow(j: JobRecord): string[] {
  return [j.id, j.name, j.backend, j.method, j.status, j.remoteStatus ?? "", j.registeredModel ?? j.artifact ?? j.baseModel];
}

function printJobs(jobs: JobRecord[], io: CliIO): void {
  if (jobs.length === 0) {
    io.out("no fine-tuning jobs\n");
    return;
  }
  io.out(table(["job", "name", "backend", "method", "status", "remote", "model"], jobs.map(jobRow)));
}

function printJob(j: JobRecord, io: CliIO): void {
  const lines = [
    `job        ${j.id} (${j.name})`,
    `backend    ${j.backend}${j.remoteId ? ` (remote id ${j.remoteId})` : ""}`,
    `method     ${j.method} on ${j.baseModel}`,
    `status     ${j.status}${j.remoteStatus ? ` (${j.remoteStatus})` : ""}`,
  ];
  if (j.error) lines.push(`error      ${j.error}`);
  if (j.artifact) lines.push(`artifact   ${j.artifact}`);
  if (j.registeredModel) lines.push(`model      registered as "${j.registeredModel}" (preflab finetune models)`);
  else if (j.status === "succeeded") {
    const hint = serveHint(j);
    if (hint) lines.push(`next       ${hint}`);
  }
  io.out(lines.join("\n") + "\n");
}

/** Ctrl-C stops watching (never the job). */
function watchSignal(): { signal: AbortSignal; done: () => void } {
  const ac = new AbortController();
  const on = () => ac.abort();
  process.once("SIGINT", on);
  return { signal: ac.signal, done: () => process.removeListener("SIGINT", on) };
}

async function launch(values: Values, root: string, io: CliIO): Promise<number> {
  const backend = choiceOption(str(values, "backend"), "backend", JOB_BACKENDS, "openai");
  if (!str(values, "backend")) throw new UsageError(`--backend is required (${JOB_BACKENDS.join(", ")})`);
  const model = str(values, "model");
  if (!model) throw new UsageError("--model is required");
  const train = str(values, "train");
  if (!train) throw new UsageError("--train is required (a training JSONL or a `preflab export` folder)");
  const method = str(values, "method") === undefined ? undefined : choiceOption(str(values, "method"), "method", JOB_METHODS, "sft");
  const openaiOnly = ["suffix", "base-url", "lr-multiplier", "validation"];
  const openWeightOnly = ["per-device-batch", "max-prompt-length", "max-length", "serve-base-url", "served-model-name", "learning-rate"];
  const skyOnly = ["cluster", "accelerators", "infra", "output-bucket", "autodown-minutes", "disk-size"];
  const slurmOnly = ["host", "remote-dir", "gpus", "cpus-per-task", "time", "partition", "account", "setup-file"];
  const reject = (keys: string[], why: string) => {
    for (const k of keys) if (values[k] !== undefined) throw new UsageError(`--${k} does not apply to the ${backend} backend (${why})`);
  };
  if (backend === "openai") reject([...openWeightOnly, ...skyOnly, ...slurmOnly], "open-weight / cluster option");
  else reject(openaiOnly, "OpenAI option");
  if (backend === "skypilot") reject(slurmOnly, "Slurm option");
  if (backend === "slurm") reject(skyOnly, "SkyPilot option");
  const serveUrl = str(values, "serve-base-url");
  if (serveUrl !== undefined) {
    try {
      new URL(serveUrl);
    } catch {
      throw new UsageError(`--serve-base-url must be a URL, got "${serveUrl}"`);
    }
  }
  const opts: LaunchOptions = {
    root,
    backend,
    method,
    model,
    train: path.resolve(train),
    validation: str(values, "validation"),
    name: str(values, "name"),
    hyperparameters: {
      epochs: num(values, "epochs"),
      batchSize: int(values, "batch-size"),
      learningRateMultiplier: num(values, "lr-multiplier"),
      learningRate: num(values, "learning-rate"),
      beta: num(values, "beta"),
    },
    seed: int(values, "seed", 0),
    onOutput: (t) => io.err(t),
  };
  for (const k of Object.keys(opts.hyperparameters!) as (keyof NonNullable<LaunchOptions["hyperparameters"]>)[]) if (opts.hyperparameters![k] === undefined) delete opts.hyperparameters![k];
  if (backend === "openai") {
    const key = process.env.OPENAI_API_KEY;
    if (!key) throw new UsageError("the openai backend needs an API key: set OPENAI_API_KEY in the environment");
    opts.apiKey = key;
    opts.baseUrl = str(values, "base-url");
    opts.suffix = str(values, "suffix");
  } else {
    opts.perDeviceBatchSize = int(values, "per-device-batch");
    opts.maxPromptLength = int(values, "max-prompt-length");
    opts.maxLength = int(values, "max-length");
    opts.serveBaseUrl = serveUrl;
    opts.servedModelName = str(values, "served-model-name");
    if (backend === "skypilot") {
      opts.skypilot = {
        cluster: str(values, "cluster"),
        accelerators: str(values, "accelerators"),
        infra: str(values, "infra"),
        outputBucket: str(values, "output-bucket"),
        autodownMinutes: int(values, "autodown-minutes", 0),
        diskSize: int(values, "disk-size"),
      };
    } else {
      const host = str(values, "host");
      if (!host) throw new UsageError("the slurm backend needs --host (an ssh destination)");
      opts.slurm = {
        host,
        remoteDir: str(values, "remote-dir"),
        gpus: int(values, "gpus"),
        cpusPerTask: int(values, "cpus-per-task"),
        time: str(values, "time"),
        partition: str(values, "partition"),
        account: str(values, "account"),
        setupFile: str(values, "setup-file"),
      };
    }
  }
  // Ctrl-C cancels the launch: the launcher's process group is ended, the job recorded as cancelled.
  const w = watchSignal();
  let job: JobRecord;
  try {
    job = await launchJob({ ...opts, signal: w.signal });
  } catch (e) {
    if (w.signal.aborted) {
      io.err("launch cancelled\n");
      return 130;
    }
    throw e;
  } finally {
    w.done();
  }
  printJob(job, io);
  // The URL this command line gave may be followed without --allow-origin.
  if (values.wait) return waitFor(root, job.id, values, io, cliKeyPolicy({ "allow-origin": [...((values["allow-origin"] as string[] | undefined) ?? []), ...(opts.baseUrl ? [opts.baseUrl] : [])] }));
  io.err(`follow it with: preflab finetune status ${job.id} --watch   (or: preflab finetune logs ${job.id} --follow)\n`);
  return 0;
}

/**
 * Before a job's backend is contacted with the key: an OpenAI job's base URL comes from its record
 * (a workspace file), so it needs the official endpoint or `--allow-origin` (src/app/origins.ts).
 */
async function authorizeJob(root: string, job: JobRecord, policy: KeyDestinationPolicy): Promise<void> {
  if (job.backend !== "openai") return;
  await policy.authorize({ key: "openai", url: job.openai?.baseUrl, source: "workspace-file", file: jobFile(root, job.id), what: `fine-tuning job ${job.id}` });
}

async function waitFor(root: string, id: string, values: Values, io: CliIO, policy: KeyDestinationPolicy = cliKeyPolicy(values)): Promise<number> {
  const apiKey = process.env.OPENAI_API_KEY;
  const intervalMs = (num(values, "interval") ?? 10) * 1000;
  const w = watchSignal();
  try {
    let job = await loadJob(root, id);
    await authorizeJob(root, job, policy);
    if (job.backend === "openai") {
      job = await jobLogs(root, id, { follow: true, apiKey, signal: w.signal, pollMs: intervalMs, onLine: (l) => io.out(l + "\n") });
    } else {
      let last = "";
      while (!w.signal.aborted) {
        job = await refreshJob(root, id, { apiKey });
        const line = `${new Date().toISOString()} ${job.status}${job.remoteStatus ? ` (${job.remoteStatus})` : ""}`;
        if (line.slice(25) !== last) io.out(line + "\n");
        last = line.slice(25);
        if (!isActive(job.status)) break;
        await abortableSleep(intervalMs, w.signal); // removes its abort listener: no leak over long watches
      }
    }
    job = await loadJob(root, id);
    printJob(job, io);
    if (w.signal.aborted && isActive(job.status)) return 130;
    return job.status === "succeeded" ? 0 : isActive(job.status) ? 0 : 1;
  } finally {
    w.done();
  }
}

export const finetuneCommand: CliCommand = {
  name: "finetune",
  summary: "launch, watch and cancel fine-tuning jobs (OpenAI; TRL via SkyPilot / Slurm)",
  help: FINETUNE_HELP,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    const common = { root: { type: "string" }, json: { type: "boolean" }, "allow-origin": { type: "string", multiple: true } } as const;
    const rootOf = (v: Values) => path.resolve(str(v, "root") ?? process.cwd());
    const apiKey = process.env.OPENAI_API_KEY;
    switch (sub) {
      case "launch": {
        const s = (names: string[]) => Object.fromEntries(names.map((n) => [n, { type: "string" as const }]));
        const { values, positionals } = parse(rest, {
          ...common,
          wait: { type: "boolean" },
          ...s(["backend", "model", "train", "method", "validation", "name", "epochs", "batch-size", "lr-multiplier", "learning-rate", "beta", "seed", "interval"]),
          ...s(["suffix", "base-url", "per-device-batch", "max-prompt-length", "max-length", "serve-base-url", "served-model-name"]),
          ...s(["cluster", "accelerators", "infra", "output-bucket", "autodown-minutes", "disk-size"]),
          ...s(["host", "remote-dir", "gpus", "cpus-per-task", "time", "partition", "account", "setup-file"]),
        });
        if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
        return launch(values, rootOf(values), io);
      }
      case "status": {
        const { values, positionals } = parse(rest, { ...common, watch: { type: "boolean" }, interval: { type: "string" } });
        const root = rootOf(values);
        if (positionals.length > 1) throw new UsageError("expected at most one JOB");
        if (positionals[0]) {
          if (values.watch) return waitFor(root, (await loadJob(root, positionals[0])).id, values, io);
          const record = await loadJob(root, positionals[0]);
          await authorizeJob(root, record, cliKeyPolicy(values));
          const job = await refreshJob(root, record, { apiKey });
          if (values.json) io.out(JSON.stringify(job, null, 2) + "\n");
          else printJob(job, io);
          return 0;
        }
        const jobs = await listJobs(root);
        const refreshed: JobRecord[] = [];
        for (const j of jobs) {
          try {
            await authorizeJob(root, j, cliKeyPolicy(values));
            refreshed.push(await refreshJob(root, j, { apiKey }));
          } catch (e) {
            io.err(`finetune status: ${j.id}: ${(e as Error).message.split("\n")[0]}\n`);
            refreshed.push(j);
          }
        }
        if (values.json) io.out(JSON.stringify(refreshed, null, 2) + "\n");
        else printJobs(refreshed, io);
        return 0;
      }
      case "list": {
        const { values, positionals } = parse(rest, common);
        if (positionals.length) throw new UsageError("list takes no JOB");
        const jobs = await listJobs(rootOf(values));
        if (values.json) io.out(JSON.stringify(jobs, null, 2) + "\n");
        else printJobs(jobs, io);
        return 0;
      }
      case "cancel": {
        const { values, positionals } = parse(rest, common);
        if (positionals.length !== 1) throw new UsageError("expected one JOB");
        await authorizeJob(rootOf(values), await loadJob(rootOf(values), positionals[0]!), cliKeyPolicy(values));
        const job = await cancelJob(rootOf(values), positionals[0]!, { apiKey });
        printJob(job, io);
        return 0;
      }
      case "logs": {
        const { values, positionals } = parse(rest, { ...common, follow: { type: "boolean" }, interval: { type: "string" } });
        if (positionals.length !== 1) throw new UsageError("expected one JOB");
        await authorizeJob(rootOf(values), await loadJob(rootOf(values), positionals[0]!), cliKeyPolicy(values));
        const w = watchSignal();
        try {
          await jobLogs(rootOf(values), positionals[0]!, { follow: values.follow === true, apiKey, signal: w.signal, pollMs: (num(values, "interval") ?? 5) * 1000, onLine: (l) => io.out(l + "\n") });
        } finally {
          w.done();
        }
        return 0;
      }
      case "models": {
        const { values, positionals } = parse(rest, common);
        if (positionals.length) throw new UsageError("models takes no argument");
        const models = await listModels(rootOf(values));
        if (values.json) io.out(JSON.stringify(models, null, 2) + "\n");
        else if (models.length === 0) io.out("no registered models (a fine-tuning job registers its model when it succeeds)\n");
        else
          io.out(
            table(
              ["name", "kind", "provider", "model", "use with"],
              models.map((m) => [m.name, m.kind, m.provider, m.model, (m.kind === "reward" ? providerFlags(m, "rm-") : providerFlags(m)).join(" ")]),
            ),
          );
        return 0;
      }
      case "register": {
        const { values, positionals } = parse(rest, { ...common, "base-url": { type: "string" }, model: { type: "string" }, name: { type: "string" } });
        if (positionals.length !== 1) throw new UsageError("expected one JOB");
        const baseUrl = str(values, "base-url");
        if (!baseUrl) throw new UsageError("--base-url is required (where the model is served)");
        try {
          new URL(baseUrl);
        } catch {
          throw new UsageError(`--base-url must be a URL, got "${baseUrl}"`);
        }
        const m = await registerServedModel(rootOf(values), positionals[0]!, { baseUrl, model: str(values, "model"), name: str(values, "name") });
        io.out(`registered "${m.name}": ${(m.kind === "reward" ? providerFlags(m, "rm-") : providerFlags(m)).join(" ")}\n`);
        return 0;
      }
      case undefined:
        throw new UsageError("expected a subcommand: launch, status, cancel, logs, list, models, register (see preflab finetune --help)");
      default:
        throw new UsageError(`unknown subcommand "${sub}" (launch, status, cancel, logs, list, models, register)`);
    }
  },
};

