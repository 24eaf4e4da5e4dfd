// `npm run dev [-- wrangler dev args]`: first-start setup, then `wrangler dev`.
// Creates .dev.vars with fresh local secrets if missing, applies D1 migrations to the
// same local state wrangler dev will use (honouring --persist-to), builds the static
// assets and the sandbox's module, then hands over.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { localSecrets } from "./local-secrets.mjs";

const args = process.argv.slice(2);
// Nothing local calls the network: not wrangler's metrics, nor miniflare's fetch of
// workers.cloudflare.com/cf.json for request.cf (its built-in placeholder is used).
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false" };

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

// The browser app, the docs page's files and the sandbox's module (wrangler.toml says why
// wrangler's own [build] does not run this).
const built = spawnSync("node", ["scripts/build-assets.mjs"], { stdio: "inherit", env });
if (built.status !== 0) process.exit(built.status ?? 1);

const dev = spawn("npx", ["wrangler", "dev", ...args], { stdio: "inherit", env });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));

// The first request starts every demo symbol's feed; make it now rather than on the
// first visit, so data is streaming by the time anyone looks.
const portIndex = args.findIndex((a) => a === "--port" || a.startsWith("--port="));
const port = portIndex < 0 ? "8787" : args[portIndex].includes("=") ? args[portIndex].split("=")[1] : args[portIndex + 1];
const ipIndex = args.findIndex((a) => a === "--ip" || a.startsWith("--ip="));
const ip = ipIndex < 0 ? "127.0.0.1" : args[ipIndex].includes("=") ? args[ipIndex].split("=")[1] : args[ipIndex + 1];
const host = ip === "0.0.0.0" || ip === "::" ? "127.0.0.1" : ip;
for (let attempt = 0; attempt < 120; attempt++) {
  await new Promise((r) => setTimeout(r, 1000));
  try {
    const res = await fetch(`http://${host.includes(":") ? `[${host}]` : host}:${port}/ready`);
    if (res.ok) {
      console.log(`RedFire is up on http://${host}:${port}; demo feeds are streaming.`);
      break;
    }
  } catch {
    // Not listening yet.
  }
}
