// Promotes an existing user to admin: the documented way to create the first admin.
//   npm run make-admin -- ada@example.com                 (local state)
//   npm run make-admin -- ada@example.com --persist-to ./state
//   npm run make-admin -- ada@example.com --env production --remote
import { spawnSync } from "node:child_process";

const [email, ...rest] = process.argv.slice(2);
if (!email || !/^[^\s@']+@[^\s@']+$/.test(email)) {
  console.error("usage: npm run make-admin -- <email> [--env X --remote | --persist-to DIR]");
  process.exit(2);
}
const target = rest.includes("--remote") ? [] : ["--local"];
const sql = `UPDATE users SET role = 'admin', updated_at = unixepoch('subsec') * 1000 WHERE email = '${email.toLowerCase()}' RETURNING id, email, role`;
const result = spawnSync("npx", ["wrangler", "d1", "execute", "DB", ...target, ...rest, "--command", sql], {
  stdio: "inherit",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
process.exit(result.status ?? 1);
