// Assembles the static assets the Worker serves (web/dist): the browser app built by Vite
// from web/, and the Swagger UI bundle behind /docs, copied from the pinned swagger-ui-dist
// package so the docs page needs no CDN. Prints what the browser downloads for the app.
import { cpSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "vite";
import { buildSandbox } from "./build-sandbox.mjs";

// Always what is deployed: Vite builds in development mode (React's checks, unminified
// names) when NODE_ENV says so, and the test setup runs this under vitest's NODE_ENV=test,
// so the tests would otherwise serve, and this would measure, a build nobody deploys.
process.env.NODE_ENV = "production";

const root = new URL("..", import.meta.url).pathname;
const out = join(root, "web/dist");
const swagger = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

// Not a static asset, but every path that builds them (npm run dev, the deploy scripts,
// CI's dry-run deploys, the test setup) needs it too: the sandbox's entry as a module string.
await buildSandbox();

await build({ configFile: join(root, "web/vite.config.ts"), logLevel: "warn" });
mkdirSync(join(out, "swagger-ui"), { recursive: true });
for (const file of ["swagger-ui.css", "swagger-ui-bundle.js"]) cpSync(join(swagger, file), join(out, "swagger-ui", file));

// What the browser downloads for the app (not the docs page): the entry chunk and CSS
// before first paint, the charting library after it.
const assets = join(out, "assets");
const html = readFileSync(join(out, "index.html"), "utf8");
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const sizes = { initial: [0, 0], later: [0, 0] };
for (const name of readdirSync(assets).filter((n) => /\.(js|css)$/.test(n))) {
  const bytes = readFileSync(join(assets, name));
  const group = html.includes(name) ? sizes.initial : sizes.later;
  group[0] += bytes.length;
  group[1] += gzipSync(bytes).length;
}
console.log(`web app: ${kib(sizes.initial[0])} before first paint (${kib(sizes.initial[1])} gzipped), ${kib(sizes.later[0])} loaded after it (${kib(sizes.later[1])} gzipped)`);
