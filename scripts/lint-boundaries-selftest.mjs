#!/usr/bin/env node
// Proves that eslint.config.js enforces the layer boundaries: lints in-memory snippets as
// if they lived at a given path and checks that each forbidden import (or clock/random
// read in an engine) is reported and each allowed one is not. Exits 1 on any failure.
//   node scripts/lint-boundaries-selftest.mjs
import { ESLint } from "eslint";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const eslint = new ESLint({ cwd: root, overrideConfigFile: fileURLToPath(new URL("../eslint.config.js", import.meta.url)) });
const BOUNDARY_RULES = new Set(["no-restricted-imports", "no-restricted-properties", "no-restricted-syntax"]);

const use = (source) => `import { thing } from ${JSON.stringify(source)};\nexport const used = thing;\n`;
const useType = (source) => `import type { Thing } from ${JSON.stringify(source)};\nexport type Used = Thing;\n`;

// [file the snippet pretends to be, code, whether a boundary rule must report it]
const cases = [
  ["shared/trading/x.ts", use("cloudflare:workers"), true],
  ["shared/x.ts", use("../platform/db"), true],
  ["shared/stream/x.ts", use("../../platform/log"), true],
  ["shared/market/x.ts", use("../../workers/lib/assets"), true],
  ["shared/x.ts", useType("../durable-objects/stream-hub/stream-hub"), true],
  ["shared/stream/x.ts", use("./protocol"), false],
  ["shared/trading/x.ts", use("../market/instrument"), false],
  ["shared/x.ts", use("zod"), false],
  ["platform/x.ts", use("../workers/lib/assets"), true],
  ["platform/x.ts", use("../durable-objects/name"), true],
  ["platform/x.ts", use("cloudflare:workers"), false],
  ["platform/x.ts", use("../shared/trading/asset"), false],
  ["platform/x.ts", use("./db"), false],
  ["durable-objects/stream-hub/x.ts", use("../../workers/lib/assets"), true],
  ["durable-objects/stream-hub/x.ts", use("../../platform/socket"), false],
  ["durable-objects/stream-hub/x.ts", use("../name"), false],
  ["workers/routes/x.ts", use("../../durable-objects/stream-hub/stream-hub"), true],
  ["workers/lib/x.ts", useType("../../durable-objects/account/account"), true],
  ["workers/index.ts", `export { StreamHub } from "../durable-objects/stream-hub/stream-hub";\n`, false],
  ["workers/routes/x.ts", use("../../platform/assets"), false],
  ["web/src/x.ts", use("../../durable-objects/account/account"), true],
  ["web/src/x.ts", use("../../platform/log"), true],
  ["web/src/x.ts", use("../shared/stream/protocol"), false],
  ["shared/trading/x.ts", "export const now = () => Date.now();\n", true],
  ["shared/venue/x.ts", "export const id = () => crypto.randomUUID();\n", true],
  ["shared/market/x.ts", "export const coin = () => Math.random();\n", true],
  ["shared/stream/x.ts", "export const today = () => new Date();\n", true],
  ["shared/stream/x.ts", "export const at = (ms: number) => new Date(ms);\n", false],
  ["platform/x.ts", "export const now = () => Date.now();\n", false],
  ["sandbox/x.ts", use("../platform/sandbox"), true],
  ["sandbox/x.ts", use("../durable-objects/market-symbol/strategy-host"), true],
  ["sandbox/x.ts", use("../workers/lib/strategies"), true],
  ["sandbox/x.ts", use("../shared/strategy/invoke"), false],
  ["shared/strategy/x.ts", "export const now = () => Date.now();\n", true],
  ["shared/indicators/x.ts", "export const coin = () => Math.random();\n", true],
];

let failed = 0;
for (const [filePath, code, forbidden] of cases) {
  const [result] = await eslint.lintText(code, { filePath });
  const reported = (result?.messages ?? []).filter((m) => m.ruleId !== null && BOUNDARY_RULES.has(m.ruleId));
  const other = (result?.messages ?? []).filter((m) => !reported.includes(m));
  const ok = forbidden === reported.length > 0 && other.every((m) => m.ruleId !== null);
  const what = `${filePath}: ${code.split("\n")[0]}`;
  if (ok) console.log(`ok   ${forbidden ? "refuses" : "allows "} ${what}`);
  else {
    failed++;
    const seen = [...reported, ...other].map((m) => `${m.ruleId ?? "parse"}: ${m.message}`).join("; ") || "nothing reported";
    console.log(`FAIL expected ${filePath} to be ${forbidden ? "refused" : "allowed"}: ${code.split("\n")[0]} (${seen})`);
  }
}
console.log(failed === 0 ? `ok: ${cases.length} boundary cases` : `FAIL: ${failed} of ${cases.length} boundary cases`);
process.exit(failed === 0 ? 0 : 1);
