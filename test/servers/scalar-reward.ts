/**
 * A stand-in for a served Bradley-Terry reward model (vLLM in pooling mode, `vllm serve MODEL
 * --runner pooling`), speaking its HTTP shapes so the production scalar-reward client runs its real
 * code path:
 *
 *   POST /classify  {"model", "messages": [...]} or {"model", "input": "..."}
 *     -> {"id", "object": "list", "created", "model",
 *         "data": [{"index": 0, "label": "LABEL_0", "probs": [score], "num_classes": 1}], "usage"}
 *   POST /pooling   same request -> {"id", "object": "list", "created", "model",
 *         "data": [{"index": 0, "object": "pooling", "data": [score]}], "usage"}
 *   POST /score-any (any JSON endpoint)  -> {"result": {"reward": score}}
 *
 * The score is `reward(conversation)`, a function the test gives. Every request is recorded.
 * An unknown model is a 404 with vLLM's error body; a body without messages or input a 400.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface RewardRequest {
  path: string;
  body: { model?: string; messages?: { role: string; content: string }[]; input?: string };
  authorization?: string;
}

export class ScalarRewardServer {
  readonly requests: RewardRequest[] = [];
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(opts: { model: string; reward: (conversation: { role: string; content: string }[]) => number }): Promise<ScalarRewardServer> {
    // eslint-disable-next-line prefer-const -- the request handler is made before the server it refers to
    let self: ScalarRewardServer | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const send = (status: number, body: unknown) => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify(body));
        };
        let body: RewardRequest["body"];
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as RewardRequest["body"];
        } catch {
          return send(400, { object: "error", message: "invalid JSON", type: "BadRequestError", code: 400 });
        }
        const path = (req.url ?? "").split("?")[0]!;
        self!.requests.push({ path, body, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
        if (req.method !== "POST" || !["/classify", "/pooling", "/score-any"].includes(path)) return send(404, { detail: "Not Found" });
        if (body.model !== opts.model) return send(404, { object: "error", message: `The model \`${String(body.model)}\` does not exist.`, type: "NotFoundError", code: 404 });
        const conversation = body.messages ?? (typeof body.input === "string" ? [{ role: "user", content: body.input }] : undefined);
        if (!conversation) return send(400, { object: "error", message: "either messages or input is required", type: "BadRequestError", code: 400 });
        const score = opts.reward(conversation);
        const usage = { prompt_tokens: 100, total_tokens: 100, completion_tokens: 0, prompt_tokens_details: null };
        if (path === "/classify") return send(200, { id: "classify-1", object: "list", created: 1, model: body.model, data: [{ index: 0, label: "LABEL_0", probs: [score], num_classes: 1 }], usage });
        if (path === "/pooling") return send(200, { id: "pool-1", object: "list", created: 1, model: body.model, data: [{ index: 0, object: "pooling", data: [score] }], usage });
        return send(200, { result: { reward: score } });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    self = new ScalarRewardServer(server, `http://127.0.0.1:${port}`);
    return self;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
