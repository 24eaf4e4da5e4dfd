import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "web/dist/", ".wrangler/", ".state/", ".ci/out/", "bench/results/", "worker-configuration.d.ts", "d1/migrations/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly", fetch: "readonly", performance: "readonly" } },
  },
  {
    // Callbacks passed to page.evaluate run in the browser.
    files: ["test/e2e/**/*.mjs"],
    languageOptions: { globals: { document: "readonly", localStorage: "readonly" } },
  },
  {
    files: ["web/public/**/*.js"],
    languageOptions: { globals: { window: "readonly", SwaggerUIBundle: "readonly" } },
  },
);
