import { execFileSync } from "node:child_process";
import type { TestProject } from "vitest/node";
import { startFakeUpstream } from "./fake-upstream";
import { startWebhookReceiver } from "./webhooks-receiver";
import { hideExpectedWorkerdNoise } from "./workerd-noise";

declare module "vitest" {
  export interface ProvidedContext {
    upstream: { url: string; control: string };
    webhooks: { url: string };
  }
}

// Runs in Node before the Workers runtime starts: builds the static assets the Worker
// serves, starts the fake upstream feed the adapter tests connect to and the webhook
// receiver the webhook tests deliver to, and keeps workerd's expected log lines out of the
// report (summarized in one line at the end).
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  execFileSync("node", ["scripts/build-assets.mjs"], { stdio: "inherit" });
  const upstream = await startFakeUpstream();
  project.provide("upstream", { url: upstream.url, control: upstream.control });
  const receiver = await startWebhookReceiver();
  project.provide("webhooks", { url: receiver.url });
  const showHidden = hideExpectedWorkerdNoise();
  return async () => {
    const hidden = showHidden();
    if (hidden) console.log(hidden);
    await upstream.close();
    await receiver.close();
  };
}
