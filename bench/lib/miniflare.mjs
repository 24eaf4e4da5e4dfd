// Starts the wrangler.toml configuration through Miniflare's API instead of `wrangler dev`.
// wrangler dev puts a Node proxy in front of workerd that holds 4-5 file handles per
// WebSocket and falls over past ~3,000 sockets; Miniflare lets workerd serve the port
// itself. Same bindings, vars and Durable Object classes; fresh secrets; in-memory state.
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig, unstable_splitSqlQuery } from "wrangler";
import { localSecrets } from "../../scripts/local-secrets.mjs";
import { RATE_LIMITS, ROOT } from "./platform.mjs";

// What wrangler's bundler does for this Worker: one ESM file, the runtime's own modules
// (cloudflare:*, node:* under nodejs_compat) left as imports.
async function bundleWorker(entry, outdir) {
  await build({
    entryPoints: [entry],
    outfile: join(outdir, "index.js"),
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*", "node:*"],
    logLevel: "warning",
  });
  return join(outdir, "index.js");
}

/**
 * Starts the platform on 127.0.0.1:`port` (0: any) and applies the D1 migrations. The
 * Worker's console output is kept (last 8 kB) instead of printed: it logs every request.
 */
export async function startMiniflare({ port = 0, vars = {} } = {}) {
  const outdir = mkdtempSync(join(tmpdir(), "redfire-mf-"));
  const config = unstable_readConfig({ config: join(ROOT, "wrangler.toml") });
  const { workerOptions, main } = unstable_getMiniflareWorkerOptions(config);
  const scriptPath = await bundleWorker(main, outdir);
  let log = "";
  const keep = (stream) => stream.on("data", (chunk) => (log = (log + chunk).slice(-8000)));
  const mf = new Miniflare({
    host: "127.0.0.1",
    port,
    handleRuntimeStdio: (stdout, stderr) => (keep(stdout), keep(stderr)),
    workers: [
      {
        ...workerOptions,
        name: config.name,
        modules: true,
        modulesRoot: outdir,
        scriptPath,
        // Secrets fresh per run, as scripts/dev.mjs would create them; limits raised.
        bindings: { ...workerOptions.bindings, ...localSecrets(), RATE_LIMITS, ...vars },
      },
    ],
  });
  const url = await mf.ready;
  const db = await mf.getD1Database("DB");
  const dir = join(ROOT, config.d1_databases[0].migrations_dir);
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    const statements = unstable_splitSqlQuery(readFileSync(join(dir, file), "utf8"));
    await db.batch(statements.map((sql) => db.prepare(sql)));
  }
  return {
    mf,
    base: url.origin,
    log: () => log,
    /** Does what `npm run make-admin` does, on this instance's D1. */
    promote: (email) => db.prepare("UPDATE users SET role = 'admin' WHERE email = ?").bind(email.toLowerCase()).run(),
    /** A Durable Object stub by binding and name, for RPC from Node (stats, status). */
    stub: async (binding, name) => {
      const ns = await mf.getDurableObjectNamespace(binding);
      return ns.get(ns.idFromName(name));
    },
    dispose: async () => {
      await mf.dispose();
      rmSync(outdir, { recursive: true, force: true });
    },
  };
}
