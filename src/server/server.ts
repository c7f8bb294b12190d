/**
 * The `.ptpl` template language server: bundled to dist/server.js (scripts/build.mjs) and started
 * by the extension (src/extension/template-language.ts) over IPC; `--stdio` works too, for other
 * editors. The features live in features.ts / preview.ts, the wiring in connection.ts.
 */
import { createConnection, ProposedFeatures } from "vscode-languageserver/node";
import { startTemplateServer } from "./connection.js";

startTemplateServer(createConnection(ProposedFeatures.all));
