/**
 * Open-weight jobs: the generated files (TRL script compiles, task YAML parses, batch script passes
 * `bash -n`), and SkyPilot / Slurm launches against stand-in `sky` and `ssh` executables put first
 * on PATH that record their argv. Names and paths full of shell metacharacters must reach the
 * tools exactly as given: inert locally (argument arrays) and, for ssh, after the remote shell
 * has parsed the command (the stand-in parses it with POSIX shell rules, python's shlex).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { parse as parseYaml } from "yaml";
import { exportFinetuneData } from "../../src/core/finetune/export.js";
import { listJobs, loadJob } from "../../src/core/finetune/jobs.js";
import { cancelJob, jobLogs, launchJob, refreshJob, registerServedModel } from "../../src/core/finetune/launch.js";
import { listModels } from "../../src/core/finetune/models.js";
import { remoteCommand, shellQuote } from "../../src/core/finetune/process.js";
import { mapSlurmStatus, parseSkyQueue } from "../../src/core/finetune/remote.js";
import { accelerateConfig, skypilotTask, slurmScript, TRAIN_SCRIPT, trlConfig } from "../../src/core/finetune/trl.js";
import { main } from "../../src/cli/main.js";
import { sampleDataset } from "../fixtures/finetune/datasets.js";
import { tempDir } from "../helpers/tmp.js";

const EVIL = `; $(rm -rf /) "quotes" 'x'`;
const dir = tempDir("preflab-ft-remote-");
const bin = path.join(dir, "bin");
const log = path.join(dir, "calls.jsonl");
const remoteHome = path.join(dir, "remote-home");
const saved = { PATH: process.env.PATH, HF_TOKEN: process.env.HF_TOKEN };
let trlSft: string;
let trlRm: string;
let openaiSft: string;

const SKY = `import json, os, sys
with open(os.environ["PREFLAB_FAKE_LOG"], "a") as f:
    f.write(json.dumps({"cmd": "sky", "argv": sys.argv[1:]}) + "\\n")
sub = sys.argv[1]
if sub == "launch":
    print("Launching a new cluster...", flush=True)
    if os.environ.get("PREFLAB_FAKE_SKY_HANG"):
        import subprocess, time
        subprocess.Popen(["sleep", "60"])  # a child of the launcher, as sky's provisioning has
        time.sleep(60)
    print("Job submitted, ID: 7")
elif sub == "queue":
    status = os.environ.get("PREFLAB_FAKE_SKY_STATUS", "RUNNING")
    print("Fetching and parsing job queue...")
    print("ID  NAME          USER  SUBMITTED   STARTED     DURATION  RESOURCES   STATUS     LOG")
    print("7   task-name     me    2 mins ago  2 mins ago  1m        1x[A100:4]  %-9s  ~/sky_logs/7" % status)
    print("6   older         me    1 day ago   1 day ago   2h        1x[A100:4]  FAILED     ~/sky_logs/6")
elif sub == "logs":
    print("step 1 loss 0.69")
    print("step 2 loss 0.41")
elif sub == "cancel":
    print("Cancelling job 7")
else:
    sys.exit(2)
`;

const SSH = `import json, os, shlex, sys
argv = sys.argv[1:]
with open(os.environ["PREFLAB_FAKE_LOG"], "a") as f:
    f.write(json.dumps({"cmd": "ssh", "argv": argv}) + "\\n")
i = argv.index("--")
host, rest = argv[i + 1], argv[i + 2:]
if len(rest) != 1:
    sys.exit("expected exactly one remote command string")
words = shlex.split(rest[0])  # what the remote POSIX shell makes of it (parsed, never run)
home = os.environ["PREFLAB_FAKE_REMOTE_ROOT"]
def at(p):
    return p if os.path.isabs(p) else os.path.join(home, p)
def record(name, args):
    with open(os.environ["PREFLAB_FAKE_LOG"], "a") as f:
        f.write(json.dumps({"cmd": name, "argv": args, "host": host}) + "\\n")
cmd = words[0]
if cmd == "mkdir":
    record("mkdir", words[1:])
    os.makedirs(at(words[-1]), exist_ok=True)
elif cmd == "cat" and words[1] == ">":
    with open(at(words[2]), "wb") as f:
        f.write(sys.stdin.buffer.read())
elif cmd == "sbatch":
    record("sbatch", words[1:])
    print("4242")
elif cmd == "sacct":
    record("sacct", words[1:])
    print(os.environ.get("PREFLAB_FAKE_SLURM_STATE", "RUNNING"))
elif cmd == "squeue":
    print("RUNNING")
elif cmd == "scancel":
    record("scancel", words[1:])
elif cmd == "tail":
    record("tail", words[1:])
    with open(at(words[-1])) as f:
        sys.stdout.write(f.read())
else:
    sys.exit(127)
`;

type Call = { cmd: string; argv: string[]; host?: string };
const calls = (): Call[] =>
  existsSync(log)
    ? readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Call)
    : [];

before(async () => {
  mkdirSync(bin, { recursive: true });
  mkdirSync(remoteHome, { recursive: true });
  // python3 without site packages starts fastest; the stand-ins need only the standard library.
  const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();
  writeFileSync(path.join(bin, "sky"), `#!${python} -S\n${SKY}`);
  writeFileSync(path.join(bin, "ssh"), `#!${python} -S\n${SSH}`);
  chmodSync(path.join(bin, "sky"), 0o755);
  chmodSync(path.join(bin, "ssh"), 0o755);
  process.env.PATH = `${bin}${path.delimiter}${process.env.PATH}`;
  process.env.PREFLAB_FAKE_LOG = log;
  process.env.PREFLAB_FAKE_REMOTE_ROOT = remoteHome;
  const ds = await sampleDataset(dir);
  // A data folder whose path is full of metacharacters.
  const data = path.join(dir, `data ${EVIL}`);
  trlSft = path.join(data, "sft");
  trlRm = path.join(data, "rm");
  openaiSft = path.join(data, "openai-sft");
  await exportFinetuneData(ds, { format: "sft", target: "trl", out: trlSft, maxInputTokens: 1500 });
  await exportFinetuneData(ds, { format: "rm", target: "trl", out: trlRm, maxInputTokens: 1500 });
  await exportFinetuneData(ds, { format: "sft", target: "openai", out: openaiSft, maxInputTokens: 1500 });
});
after(() => {
  process.env.PATH = saved.PATH;
  if (saved.HF_TOKEN === undefined) delete process.env.HF_TOKEN;
  else process.env.HF_TOKEN = saved.HF_TOKEN;
  delete process.env.PREFLAB_FAKE_LOG;
  delete process.env.PREFLAB_FAKE_REMOTE_ROOT;
  delete process.env.PREFLAB_FAKE_SKY_STATUS;
  delete process.env.PREFLAB_FAKE_SLURM_STATE;
  delete process.env.PREFLAB_FAKE_SKY_HANG;
});
beforeEach(() => {
  writeFileSync(log, "");
  delete process.env.HF_TOKEN;
});

test("generated files: the Python compiles, the task YAML parses, the batch script passes bash -n", () => {
  const gen = path.join(dir, "gen");
  mkdirSync(gen, { recursive: true });
  writeFileSync(path.join(gen, "train.py"), TRAIN_SCRIPT);
  execFileSync("python3", ["-m", "py_compile", path.join(gen, "train.py")]);
  const cfg = trlConfig({ jobId: "ft-20250101-000000-abcdef", method: "dpo", model: "llama-3.1-8b", trainFile: "train.jsonl", outputDir: "output", gpus: 4 });
  assert.equal(cfg.model, "meta-llama/Llama-3.1-8B-Instruct");
  assert.equal(cfg.learning_rate, 5e-6);
  assert.equal(cfg.effective_batch_size, 64, "the paper's DPO batch");
  assert.equal(cfg.gradient_accumulation_steps, 16);
  assert.equal(trlConfig({ ...cfg, jobId: cfg.job_id, trainFile: "t", outputDir: "o", method: "rm", model: "mistral-7b", gpus: 4 }).effective_batch_size, 256);
  const yamlText = skypilotTask({ name: `job ${EVIL}`, accelerators: "A100:4", infra: "aws", jobDir: `/tmp/a ${EVIL}`, trainFile: `/tmp/b ${EVIL}/train.jsonl`, outputBucket: "s3://bucket/out", jobId: cfg.job_id });
  const task = parseYaml(yamlText) as { name: string; resources: Record<string, unknown>; file_mounts: Record<string, unknown>; setup: string; run: string; num_nodes: number };
  assert.equal(task.name, `job ${EVIL}`);
  assert.deepEqual(task.resources, { accelerators: "A100:4", infra: "aws", disk_size: 512 });
  assert.deepEqual(task.file_mounts, { "/preflab/job": `/tmp/a ${EVIL}`, "/preflab/data/train.jsonl": `/tmp/b ${EVIL}/train.jsonl`, "/preflab/output": { source: "s3://bucket/out", mode: "MOUNT" } });
  assert.match(task.run, /accelerate launch --config_file accelerate.yaml --num_processes "\$SKYPILOT_NUM_GPUS_PER_NODE" train.py --config config.json/);
  assert.ok(!task.run.includes(EVIL) && !task.setup.includes(EVIL), "no user text in shell commands");
  for (const b of [spawnSync("bash", ["-n", "-c", task.setup]), spawnSync("bash", ["-n", "-c", task.run])]) assert.equal(b.status, 0, String(b.stderr));
  assert.equal((parseYaml(accelerateConfig(4)) as { distributed_type: string }).distributed_type, "FSDP");
  assert.equal((parseYaml(accelerateConfig(1)) as { distributed_type: string }).distributed_type, "NO");
  const sbatch = path.join(gen, "job.sbatch");
  writeFileSync(sbatch, slurmScript({ gpus: 4, time: "2-00:00:00", jobId: cfg.job_id, setup: "module load cuda/12.4\nsource ~/venvs/trl/bin/activate" }));
  const check = spawnSync("bash", ["-n", sbatch]);
  assert.equal(check.status, 0, String(check.stderr));
  assert.match(readFileSync(sbatch, "utf8"), /#SBATCH --gres=gpu:4\n/);
  assert.throws(() => slurmScript({ gpus: 4, time: "1; rm -rf /", jobId: cfg.job_id }), /time limit/);
  assert.throws(() => skypilotTask({ name: "n", accelerators: "A100:4", jobDir: "/a", trainFile: "/b", pip: ["trl; rm -rf /"], jobId: cfg.job_id }), /pip requirement/);
});

test("shell quoting: a real sh gives back every word unchanged, and runs nothing", () => {
  const canary = path.join(dir, "canary");
  const words = [`a $(touch ${canary}) b`, `'; touch ${canary}; '`, '"$HOME" `touch x` \\ \n newline', "", "plain"];
  const r = spawnSync("sh", ["-c", `printf '%s\\0' ${remoteCommand(words)}`]);
  assert.equal(r.status, 0);
  assert.deepEqual(r.stdout.toString("utf8").split("\0").slice(0, -1), words);
  assert.ok(!existsSync(canary));
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
});

test("SkyPilot: exact argv for launch, queue, logs and cancel; metacharacters pass through inert", async () => {
  const root = path.join(dir, `ws ${EVIL}`);
  const name = `rm ${EVIL}`;
  const cluster = `c ${EVIL}`;
  process.env.HF_TOKEN = "hf_SECRET_TOKEN_VALUE";
  const job = await launchJob({
    root,
    backend: "skypilot",
    model: "llama-3.1-8b",
    train: trlRm,
    name,
    skypilot: { cluster, accelerators: "A100:4", infra: "aws", autodownMinutes: 30 },
    serveBaseUrl: "http://gpu-host:8000",
  });
  assert.equal(job.method, "rm");
  assert.equal(job.remoteId, "7");
  assert.equal(job.status, "queued");
  const yamlPath = path.join(root, ".preflab", "finetune", "jobs", job.id, "sky.yaml");
  assert.deepEqual(calls(), [{ cmd: "sky", argv: ["launch", "--yes", "--detach-run", "--cluster", cluster, "--env", "HF_TOKEN", "--idle-minutes-to-autostop", "30", "--down", "--", yamlPath] }]);
  assert.ok(!readFileSync(log, "utf8").includes("hf_SECRET_TOKEN_VALUE"), "the token is passed by name only");
  const task = parseYaml(readFileSync(yamlPath, "utf8")) as { name: string; file_mounts: Record<string, string> };
  assert.equal(task.name, name);
  assert.equal(task.file_mounts["/preflab/job"], path.dirname(yamlPath));
  assert.equal(task.file_mounts["/preflab/data/train.jsonl"], path.join(trlRm, "train.jsonl"));
  const config = JSON.parse(readFileSync(path.join(path.dirname(yamlPath), "config.json"), "utf8")) as Record<string, unknown>;
  assert.equal(config.method, "rm");
  assert.equal(config.model, "meta-llama/Llama-3.1-8B-Instruct");
  assert.equal(config.train_file, "/preflab/data/train.jsonl");
  assert.equal(readFileSync(path.join(path.dirname(yamlPath), "train.py"), "utf8"), TRAIN_SCRIPT, "the script that compiles in the first test");

  writeFileSync(log, "");
  process.env.PREFLAB_FAKE_SKY_STATUS = "RUNNING";
  assert.equal((await refreshJob(root, job.id)).status, "running");
  process.env.PREFLAB_FAKE_SKY_STATUS = "SUCCEEDED";
  const done = await refreshJob(root, job.id);
  assert.equal(done.status, "succeeded");
  assert.equal(done.artifact, `${cluster}:~/preflab-output/${job.id}`);
  assert.deepEqual(calls(), [
    { cmd: "sky", argv: ["queue", "--", cluster] },
    { cmd: "sky", argv: ["queue", "--", cluster] },
  ]);
  // The served reward model is registered for scalar-reward rejection sampling.
  const [model] = await listModels(root);
  assert.equal(model!.provider, "scalar-reward");
  assert.equal(model!.kind, "reward");
  assert.equal(model!.baseUrl, "http://gpu-host:8000");
  assert.equal(model!.name, name);

  writeFileSync(log, "");
  const lines: string[] = [];
  await jobLogs(root, job.id, { follow: true, onLine: (l) => lines.push(l) });
  assert.deepEqual(lines, ["step 1 loss 0.69", "step 2 loss 0.41"]);
  await jobLogs(root, job.id, { follow: false, onLine: () => undefined });
  assert.deepEqual(calls(), [
    { cmd: "sky", argv: ["logs", "--", cluster, "7"] },
    { cmd: "sky", argv: ["logs", "--no-follow", "--", cluster, "7"] },
  ]);

  // A second job, cancelled.
  writeFileSync(log, "");
  delete process.env.HF_TOKEN;
  process.env.PREFLAB_FAKE_SKY_STATUS = "PENDING";
  const j2 = await launchJob({ root, backend: "skypilot", model: "mistral-7b", train: trlSft, skypilot: { cluster } });
  assert.equal(calls()[0]!.argv.includes("--env"), false, "no --env HF_TOKEN when it is not set");
  writeFileSync(log, "");
  const c = await cancelJob(root, j2.id);
  assert.equal(c.status, "cancelled");
  assert.deepEqual(calls(), [{ cmd: "sky", argv: ["cancel", "--yes", "--", cluster, "7"] }]);
  delete process.env.PREFLAB_FAKE_SKY_STATUS;
});

test("Slurm over ssh: exact argv, files copied, sbatch gets the exact words after the remote shell", async () => {
  const root = path.join(dir, `ws2 ${EVIL}`);
  const name = `sft ${EVIL}`;
  const remoteDir = `jobs/${EVIL}`;
  const host = "-oProxyCommand=evil";
  const setup = path.join(dir, "setup.sh");
  writeFileSync(setup, "module load cuda\n");
  const job = await launchJob({
    root,
    backend: "slurm",
    model: "mistral-7b",
    train: trlSft,
    name,
    slurm: { host, remoteDir, partition: `gpu ${EVIL}`, gpus: 2, time: "12:00:00", setupFile: setup },
    serveBaseUrl: "http://gpu-host:8000/v1",
    servedModelName: "mistral-sft",
  });
  assert.equal(job.remoteId, "4242");
  assert.equal(job.status, "queued");
  const ssh = calls().filter((c) => c.cmd === "ssh");
  const opts = ["-o", "BatchMode=yes", "--", host];
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  assert.deepEqual(ssh[0]!.argv, [...opts, `'mkdir' '-p' '--' ${q(remoteDir)}`]);
  assert.deepEqual(
    ssh.slice(1, 6).map((c) => c.argv),
    ["train.py", "config.json", "accelerate.yaml", "job.sbatch", "train.jsonl"].map((f) => [...opts, `cat > ${q(`${remoteDir}/${f}`)}`]),
  );
  assert.deepEqual(ssh[6]!.argv, [...opts, ["sbatch", "--parsable", `--job-name=${name}`, `--chdir=${remoteDir}`, "--output=slurm-%j.out", `--partition=gpu ${EVIL}`, `${remoteDir}/job.sbatch`].map(q).join(" ")]);
  // What the remote shell makes of it: exactly the intended words.
  const sbatch = calls().find((c) => c.cmd === "sbatch")!;
  assert.deepEqual(sbatch.argv, ["--parsable", `--job-name=${name}`, `--chdir=${remoteDir}`, "--output=slurm-%j.out", `--partition=gpu ${EVIL}`, `${remoteDir}/job.sbatch`]);
  assert.equal(sbatch.host, host);
  // The files arrived intact.
  const remote = path.join(remoteHome, remoteDir);
  assert.equal(readFileSync(path.join(remote, "train.jsonl"), "utf8"), readFileSync(path.join(trlSft, "train.jsonl"), "utf8"));
  const script = readFileSync(path.join(remote, "job.sbatch"), "utf8");
  assert.match(script, /module load cuda/);
  assert.equal(spawnSync("bash", ["-n", path.join(remote, "job.sbatch")]).status, 0);
  assert.equal(readFileSync(path.join(remote, "train.py"), "utf8"), TRAIN_SCRIPT);
  const config = JSON.parse(readFileSync(path.join(remote, "config.json"), "utf8")) as Record<string, unknown>;
  assert.deepEqual([config.train_file, config.output_dir, config.method, config.effective_batch_size], ["train.jsonl", "output", "sft", 32]);

  writeFileSync(log, "");
  process.env.PREFLAB_FAKE_SLURM_STATE = "COMPLETED";
  const done = await refreshJob(root, job.id);
  assert.equal(done.status, "succeeded");
  assert.equal(done.artifact, `${host}:${remoteDir}/output`);
  assert.deepEqual(calls().find((c) => c.cmd === "sacct")!.argv, ["-j", "4242", "-X", "-n", "-P", "-o", "State"]);
  const [model] = await listModels(root);
  assert.deepEqual([model!.provider, model!.model, model!.baseUrl, model!.kind], ["openai-compatible", "mistral-sft", "http://gpu-host:8000/v1", "generation"]);

  writeFileSync(path.join(remote, "slurm-4242.out"), "epoch 1\nepoch 2\n");
  writeFileSync(log, "");
  const lines: string[] = [];
  await jobLogs(root, job.id, { follow: true, onLine: (l) => lines.push(l) });
  assert.deepEqual(lines, ["epoch 1", "epoch 2"]);
  assert.deepEqual(calls().find((c) => c.cmd === "tail")!.argv, ["-n", "+1", "-F", "--", `${remoteDir}/slurm-4242.out`]);

  // Cancel a running one.
  process.env.PREFLAB_FAKE_SLURM_STATE = "RUNNING";
  const j2 = await launchJob({ root, backend: "slurm", model: "mistral-7b", train: trlSft, slurm: { host, remoteDir: `${remoteDir}-2` } });
  writeFileSync(log, "");
  assert.equal((await refreshJob(root, j2.id)).status, "running");
  assert.equal((await cancelJob(root, j2.id)).status, "cancelled");
  assert.deepEqual(calls().find((c) => c.cmd === "scancel")!.argv, ["4242"]);
  // Registering a served result later, by hand.
  const m = await registerServedModel(root, j2.id, { baseUrl: "http://other:8000/v1", model: "served" });
  assert.equal(m.provider, "openai-compatible");
  assert.equal((await loadJob(root, j2.id)).registeredModel, m.name);
  delete process.env.PREFLAB_FAKE_SLURM_STATE;
});

test("status words, queue parsing, refusals, and the CLI", async () => {
  assert.equal(mapSlurmStatus("CANCELLED by 1234"), "cancelled");
  assert.equal(mapSlurmStatus("OUT_OF_MEMORY"), "failed");
  assert.equal(mapSlurmStatus("PENDING"), "queued");
  assert.deepEqual(parseSkyQueue("ID  NAME  USER  STATUS     LOG\n3   a b   me    SETTING_UP x\n"), [{ id: "3", name: "a", status: "SETTING_UP" }]);
  const root = path.join(dir, "ws-cli");
  await assert.rejects(launchJob({ root, backend: "skypilot", model: "m", train: openaiSft }), /needs --target trl/);
  await assert.rejects(launchJob({ root, backend: "slurm", model: "m", train: trlSft }), /needs --host/);
  let out = "";
  let err = "";
  const io = { out: (t: string) => (out += t), err: (t: string) => (err += t) };
  writeFileSync(log, "");
  const code = await main(["finetune", "launch", "--root", root, "--backend", "skypilot", "--model", "llama-3.1-8b", "--train", trlSft, "--name", `n ${EVIL}`, "--cluster", "preflab-x", "--accelerators", "H100:8"], io);
  assert.equal(code, 0, err);
  assert.deepEqual(calls()[0]!.argv.slice(0, 5), ["launch", "--yes", "--detach-run", "--cluster", "preflab-x"]);
  out = "";
  assert.equal(await main(["finetune", "list", "--root", root], io), 0);
  assert.match(out, /skypilot\s+sft\s+queued/);
  err = "";
  assert.equal(await main(["finetune", "launch", "--root", root, "--backend", "skypilot", "--model", "m", "--train", trlSft, "--host", "h"], io), 2);
  assert.match(err, /--host does not apply to the skypilot backend/);
  err = "";
  assert.equal(await main(["finetune", "frobnicate"], io), 2);
  assert.match(err, /unknown subcommand/);
});

test("launch is cancellable: the launcher's whole process group ends, the job is recorded as cancelled, its output is in launch.log", async () => {
  process.env.PREFLAB_FAKE_SKY_HANG = "1";
  try {
    const root = path.join(dir, "ws-launch-cancel");
    const ac = new AbortController();
    let seen = "";
    const t0 = Date.now();
    await assert.rejects(
      launchJob({
        root,
        backend: "skypilot",
        model: "mistral-7b",
        train: trlSft,
        signal: ac.signal,
        onOutput: (t) => {
          seen += t;
          if (seen.includes("Launching")) ac.abort();
        },
      }),
      /cancelled/,
    );
    assert.ok(Date.now() - t0 < 20_000, "did not wait for the launcher to finish on its own");
    const [job] = await listJobs(root);
    assert.equal(job!.status, "cancelled");
    assert.match(readFileSync(path.join(job!.skypilot!.jobDir, "launch.log"), "utf8"), /Launching a new cluster/);
    // No launcher process (nor its `sleep 60` child) is left.
    const left = spawnSync("pgrep", ["-f", "sleep 60"], { encoding: "utf8" }).stdout.trim();
    const mine = left
      .split("\n")
      .filter(Boolean)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/environ`, "utf8").includes("PREFLAB_FAKE_SKY_HANG");
        } catch {
          return false;
        }
      });
    assert.deepEqual(mine, []);
  } finally {
    delete process.env.PREFLAB_FAKE_SKY_HANG;
  }
});
