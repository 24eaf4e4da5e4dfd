import js from "@eslint/js";
import tseslint from "typescript-eslint";

// The layers and who may import whom (a violation fails `npx eslint .`):
//   shared/           the pure core: runs in Node and workerd, so no cloudflare:* and
//                     nothing from platform/, workers/ or durable-objects/
//   platform/         Cloudflare-bound code both sides need: never workers/ or durable-objects/
//   durable-objects/  never workers/
//   workers/          only the entry (workers/index.ts) imports durable-objects/, to
//                     export the classes and type the stubs
//   web/              the browser: never durable-objects/ or platform/
//   sandbox/          runs inside the Worker Loader isolate with user code: shared/ only
// Patterns are regular expressions on the import string, so relative paths at any depth
// ("../../workers/x") match. Type-only imports count too: a type from an object's module
// ties the importer to that module's layer.
const layer = (name, why) => ({ regex: `(^|/)${name}(/|$)`, message: why });
const CLOUDFLARE = { regex: "^cloudflare:", message: "shared/ runs in Node too: take Cloudflare-bound things as arguments or ports." };
const PLATFORM_IN_SHARED = layer("platform", "shared/ is the pure core: platform/ is Cloudflare-bound.");
const WORKERS = (from) => layer("workers", `${from} never imports the gateway (workers/).`);
const DURABLE_OBJECTS = (from) => layer("durable-objects", `${from} never imports durable-objects/: share the type through shared/.`);
const PLATFORM = (from) => layer("platform", `${from} never imports platform/.`);

const boundary = (files, patterns, ignores) => ({
  files,
  ...(ignores && { ignores }),
  rules: { "no-restricted-imports": ["error", { patterns }] },
});

// Engines take time and ids as arguments (a backtest replays them; a test fixes them),
// so the engine folders read neither the clock nor a random source. The modules at the
// top of shared/ are outside this rule: shared/events.ts stamps a new domain event with
// crypto.randomUUID() and Date.now() as a default argument, for the shells that emit them.
const CLOCK_OR_RANDOM = "an engine gets time and ids from its caller (a `now` argument or an id port), never from the platform";
const engineFolders = ["shared/trading/**", "shared/venue/**", "shared/market/**", "shared/stream/**", "shared/indicators/**", "shared/strategy/**"];

export default tseslint.config(
  { ignores: ["node_modules/", "web/dist/", ".wrangler/", ".state/", ".ci/out/", "bench/results/", "worker-configuration.d.ts", "d1/migrations/", "sandbox/entry.generated.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
  boundary(["shared/**"], [CLOUDFLARE, PLATFORM_IN_SHARED, WORKERS("shared/"), DURABLE_OBJECTS("shared/")]),
  boundary(["platform/**"], [WORKERS("platform/"), DURABLE_OBJECTS("platform/")]),
  boundary(["durable-objects/**"], [WORKERS("durable-objects/")]),
  boundary(["workers/**"], [DURABLE_OBJECTS("workers/ (except its entry, workers/index.ts)")], ["workers/index.ts"]),
  boundary(["web/**"], [DURABLE_OBJECTS("web/"), PLATFORM("web/")]),
  boundary(["sandbox/**"], [WORKERS("sandbox/"), DURABLE_OBJECTS("sandbox/"), PLATFORM("sandbox/")]),
  {
    files: engineFolders,
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: CLOCK_OR_RANDOM },
        { object: "performance", property: "now", message: CLOCK_OR_RANDOM },
        { object: "Math", property: "random", message: CLOCK_OR_RANDOM },
        { object: "crypto", property: "randomUUID", message: CLOCK_OR_RANDOM },
        { object: "crypto", property: "getRandomValues", message: CLOCK_OR_RANDOM },
      ],
      "no-restricted-syntax": ["error", { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: CLOCK_OR_RANDOM }],
    },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", fetch: "readonly", performance: "readonly" } },
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
