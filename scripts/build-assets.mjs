// Assembles the static assets the Worker serves (web/dist): the browser app's public
// files and the Swagger UI bundle behind /docs, copied from the pinned swagger-ui-dist
// package so the docs page needs no CDN.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const out = join(root, "web/dist");
const swagger = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "swagger-ui"), { recursive: true });
cpSync(join(root, "web/public"), out, { recursive: true });
for (const file of ["swagger-ui.css", "swagger-ui-bundle.js"]) cpSync(join(swagger, file), join(out, "swagger-ui", file));
