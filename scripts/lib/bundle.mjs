// Runs the repository's TypeScript in Node: esbuild bundles an entry of re-exports (and any
// user file it names) into a temporary directory, Node imports the bundle, the directory
// goes. The backtest CLI and the benchmarks use it, so Node runs the same engine code that
// the Workers run, not a copy.
import { build } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export const ROOT = new URL("../..", import.meta.url).pathname;

/** `export { … } from "<ROOT>/<path>";` for an entry's lines. */
export const reexport = (names, path) => `export { ${names.join(", ")} } from ${JSON.stringify(join(ROOT, path))};`;

export class BundleError extends Error {
  constructor(messages) {
    super(messages.join("\n"));
    this.messages = messages;
  }
}

/**
 * Bundles `lines` (an ES module's source) and imports it. esbuild's own log stays silent:
 * a failure is thrown as a BundleError whose messages read "file:line:column: text", so a
 * caller decides where they go (a CLI keeps its stdout for results). `options.sourcemap`
 * embeds a source map; `options.plugins` are esbuild's.
 */
export async function importBundle(lines, prefix = "redfire-", options = {}) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    const entry = join(dir, "entry.ts");
    writeFileSync(entry, lines.join("\n"));
    const outfile = join(dir, "bundle.mjs");
    try {
      // `sourcemap`: inline, so that (with Node's source maps on) a stack names the sources' lines, not the bundle's.
      await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", target: "node20", outfile, logLevel: "silent", plugins: options.plugins ?? [], ...(options.sourcemap ? { sourcemap: "inline" } : {}) });
    } catch (error) {
      const errors = Array.isArray(error?.errors) ? error.errors : [];
      if (errors.length === 0) throw error;
      throw new BundleError(errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text)));
    }
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
