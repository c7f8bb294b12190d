/**
 * Wires the template language features (features.ts, preview.ts) to an LSP connection. The entry
 * (server.ts) passes a stdio/IPC connection; the unit tests pass one over in-process streams.
 */
import { LSPErrorCodes, ResponseError, TextDocuments, TextDocumentSyncKind, type Connection, type InitializeParams, type InitializeResult } from "vscode-languageserver";
import { TextDocument } from "vscode-languageserver-textdocument";
import { TEMPLATE_PREVIEW_METHOD, TEMPLATE_SUBJECTS_METHOD, type TemplateRequests, type TemplateServerInitOptions } from "../protocol/templates.js";
import { analyze, codeLenses, completion, diagnostics, documentSymbols, foldingRanges, hover, type TemplateDocument } from "./features.js";
import { listSubjects, PreviewError, renderPreview } from "./preview.js";

export const DEFAULT_SAMPLE_SIZE = 5;

function onTemplateRequest<M extends keyof TemplateRequests>(
  connection: Connection,
  method: M,
  handler: (params: TemplateRequests[M]["params"]) => Promise<TemplateRequests[M]["result"]>,
): void {
  connection.onRequest(method, async (params: TemplateRequests[M]["params"]) => {
    try {
      return await handler(params);
    } catch (e) {
      if (e instanceof PreviewError) throw new ResponseError(LSPErrorCodes.RequestFailed, e.message);
      connection.console.error(`${method}: ${(e as Error).stack ?? String(e)}`);
      throw new ResponseError(LSPErrorCodes.RequestFailed, (e as Error).message);
    }
  });
}

export function startTemplateServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const cache = new Map<string, { version: number; doc: TemplateDocument }>();
  let sampleSize = DEFAULT_SAMPLE_SIZE;

  const analysisOf = (uri: string): TemplateDocument | undefined => {
    const td = documents.get(uri);
    if (!td) return undefined;
    const hit = cache.get(uri);
    if (hit && hit.version === td.version) return hit.doc;
    const doc = analyze(td.getText(), uri);
    cache.set(uri, { version: td.version, doc });
    return doc;
  };

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    const init = (params.initializationOptions ?? {}) as TemplateServerInitOptions;
    if (typeof init.sampleSize === "number" && Number.isInteger(init.sampleSize) && init.sampleSize > 0) sampleSize = init.sampleSize;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: ["{", "@", " "] },
        hoverProvider: true,
        codeLensProvider: { resolveProvider: false },
        foldingRangeProvider: true,
        documentSymbolProvider: true,
      },
      serverInfo: { name: "preflab-templates" },
    };
  });

  documents.onDidChangeContent((e) => {
    const doc = analysisOf(e.document.uri);
    // A notification: if the client is gone there is nobody left to tell.
    if (doc) connection.sendDiagnostics({ uri: e.document.uri, version: e.document.version, diagnostics: diagnostics(doc) }).catch(() => undefined);
  });
  documents.onDidClose((e) => {
    cache.delete(e.document.uri);
    connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] }).catch(() => undefined);
  });

  connection.onCompletion((p) => {
    const doc = analysisOf(p.textDocument.uri);
    return doc ? completion(doc, p.position) : [];
  });
  connection.onHover((p) => {
    const doc = analysisOf(p.textDocument.uri);
    return (doc && hover(doc, p.position)) ?? null;
  });
  connection.onCodeLens((p) => {
    const doc = analysisOf(p.textDocument.uri);
    return doc ? codeLenses(doc, p.textDocument.uri, sampleSize) : [];
  });
  connection.onFoldingRanges((p) => {
    const doc = analysisOf(p.textDocument.uri);
    return doc ? foldingRanges(doc) : [];
  });
  connection.onDocumentSymbol((p) => {
    const doc = analysisOf(p.textDocument.uri);
    return doc ? documentSymbols(doc) : [];
  });

  onTemplateRequest(connection, TEMPLATE_SUBJECTS_METHOD, listSubjects);
  onTemplateRequest(connection, TEMPLATE_PREVIEW_METHOD, renderPreview);

  documents.listen(connection);
  connection.listen();
}
