import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
// @ts-expect-error -- plain ESM script shared with `npm run dev`
import { localSecrets } from "./scripts/local-secrets.mjs";

// The Worker runs in workerd with the real bindings from wrangler.toml (D1, Durable
// Objects, Queues); only the secrets are made up per run, as `npm run dev` does.
export default defineConfig({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          ...localSecrets(),
          // Production limits, but a shorter back-off cap so lockout tests take seconds.
          // Every trace sampled, so a test can read any request's spans; the sampling itself is
          // tested with the caller's flag (test/tracing.test.ts) and as a rule (test/platform/trace.test.ts).
          TRACE_SAMPLE_RATE: "1",
          LOGIN_THROTTLE: '{"windowSeconds":900,"perAccount":10,"perClient":30,"freeFailures":3,"maxDelayMs":200}',
          TEST_MIGRATIONS: await readD1Migrations(fileURLToPath(new URL("./d1/migrations", import.meta.url))),
        },
      },
    })),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/apply-migrations.ts"],
    globalSetup: ["./test/global-setup.ts"],
    testTimeout: 30_000,
    // The gateway's one line per request, the consumer's per batch and the spans of every hop (docs/tracing.md)
    // would drown the test report. workerd's own log lines never reach this filter:
    // test/workerd-noise.ts (from the global setup) hides the expected ones and summarizes
    // them in one line.
    onConsoleLog: (line) => !line.includes('"message":"request"') && !line.includes('"message":"span"') && !line.includes('"message":"batch"'),
  },
});
