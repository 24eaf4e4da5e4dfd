import { defineConfig } from "vite";

// The browser app: built into web/dist, which the Worker serves as static assets (the
// Swagger UI files are added by scripts/build-assets.mjs). Preact's JSX comes from the
// tsconfig (jsxImportSource); no UI kit.
export default defineConfig({
  root: new URL(".", import.meta.url).pathname,
  publicDir: "public",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: true, reportCompressedSize: true },
  server: { proxy: { "/api": "http://127.0.0.1:8787", "/v2": { target: "http://127.0.0.1:8787", ws: true }, "/v1beta3": { target: "http://127.0.0.1:8787", ws: true }, "/stream": { target: "ws://127.0.0.1:8787", ws: true } } },
});
