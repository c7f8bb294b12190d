// Lint rules that keep the layout honest (docs/ARCHITECTURE.md): the core, the protocol
// and the webview never import `vscode` at runtime.
import tseslint from "typescript-eslint";

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
  { ignores: ["dist/**", "node_modules/**", ".preflab/**", ".bench/**"] },
  {
    files: ["**/*.ts", "**/*.mts"],
    languageOptions: { parser: tseslint.parser },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-floating-promises": "off",
      "no-debugger": "error",
    },
  },
  { files: ["src/core/**", "src/protocol/**", "src/cli/**", "webview-ui/**"], rules: noVscode },
);
