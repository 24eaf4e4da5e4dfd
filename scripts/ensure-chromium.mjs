// `npm test` on a fresh machine: the browser tests need Debian's Chromium. Installs it with
// apt-get when it is missing and we may (root); otherwise says exactly what to run.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

const path = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!existsSync(path)) {
  if (process.getuid?.() !== 0) {
    console.error(`The browser tests need Chromium at ${path}: run  sudo apt-get install -y chromium  (or set CHROMIUM=/path/to/chromium).`);
    process.exit(1);
  }
  console.log("Installing Debian's chromium for the browser tests…");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "chromium"]]) {
    const r = spawnSync("apt-get", args, { stdio: "inherit", env });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}
