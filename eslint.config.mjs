// Lint rules: type-aware checks (typescript-eslint's recommended type-checked set; floating and
// misused promises are errors, see CONTRIBUTING.md) and the layout rules (docs/ARCHITECTURE.md):
// the core, the protocol and the webview never import `vscode` at runtime.
import path from "node:path";
import { fileURLToPath } from "node:url";
import tseslint from "typescript-eslint";

const root = path.dirname(fileURLToPath(import.meta.url));

const noVscode = {
  "no-restricted-imports": ["error", {
    paths: [{ name: "vscode", message: "src/core, src/protocol and webview-ui must not import vscode (docs/ARCHITECTURE.md)." }],
  }],
  "no-restricted-syntax": ["error", {
    selector: "CallExpression[callee.name='require'][arguments.0.value='vscode']",
    message: "src/core, src/protocol and webview-ui must not require vscode.",
  }, {
    selector: "ImportExpression[source.value='vscode']",
    message: "src/core, src/protocol and webview-ui must not import vscode.",
  }],
};

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".preflab/**", ".bench/**", "**/*.js", "**/*.mjs", "**/*.cjs"] },
  {
    files: ["**/*.ts", "**/*.mts"],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: root } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // A promise nobody awaits or catches is a bug: await it, return it, or `void` it where
      // fire-and-forget is meant and its errors are handled. node:test's test()/describe() are
      // awaited by the runner.
      "@typescript-eslint/no-floating-promises": ["error", {
        allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "describe", "it", "suite"] }],
      }],
      "@typescript-eslint/no-misused-promises": "error",
      // Off: an async function without `await` still turns a throw into a rejection, which its
      // callers rely on; dropping `async` would change that.
      "@typescript-eslint/require-await": "off",
      // Off: promises reject with an AbortSignal's reason (any value), as the platform's own do.
      "@typescript-eslint/prefer-promise-reject-errors": "off",
      // Off: `"known" | string` unions list the known values for readers and editors on purpose.
      "@typescript-eslint/no-redundant-type-constituents": "off",
      // Off: String(x) of unknown values (caught errors, JSON fields) is the intended total conversion.
      "@typescript-eslint/no-base-to-string": "off",
      "no-debugger": "error",
    },
  },
  {
    // Tests read untyped JSON (files, wire bodies, webview state) and assert on its fields.
    files: ["test/**"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-call": "off",
    },
  },
  { files: ["src/core/**", "src/protocol/**", "src/cli/**", "webview-ui/**"], rules: noVscode },
);
