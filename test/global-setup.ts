import { execFileSync } from "node:child_process";

// The Worker serves web/dist as static assets; build it once before the runtime starts.
export default function setup(): void {
  execFileSync("node", ["scripts/build-assets.mjs"], { stdio: "inherit" });
}
