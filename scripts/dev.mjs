// `npm run dev [-- wrangler dev args]`: first-start setup, then `wrangler dev`.
// Creates .dev.vars with fresh local secrets if missing, applies D1 migrations to the
// same local state wrangler dev will use (honouring --persist-to), then hands over.
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { localSecrets } from "./local-secrets.mjs";

const args = process.argv.slice(2);
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };

if (!existsSync(".dev.vars")) {
  const secrets = localSecrets();
  writeFileSync(".dev.vars", Object.entries(secrets).map(([k, v]) => `${k}='${v}'`).join("\n") + "\n", { mode: 0o600 });
  console.log("Created .dev.vars with a fresh local signing key and pepper.");
}

const persistIndex = args.findIndex((a) => a === "--persist-to" || a.startsWith("--persist-to="));
const persist =
  persistIndex < 0 ? [] : args[persistIndex].includes("=") ? [args[persistIndex]] : ["--persist-to", args[persistIndex + 1]];
const envIndex = args.findIndex((a) => a === "--env" || a === "-e");
const wranglerEnv = envIndex < 0 ? [] : ["--env", args[envIndex + 1]];

const run = (cmd) => {
  const result = spawnSync("npx", ["wrangler", ...cmd], { stdio: "inherit", env });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

run(["d1", "migrations", "apply", "DB", "--local", ...persist, ...wranglerEnv]);
run(["dev", ...args]);
