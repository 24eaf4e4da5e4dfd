// Promotes an existing user to admin: the documented way to create the first admin.
//   npm run make-admin -- ada@example.com                 (local state)
//   npm run make-admin -- ada@example.com --persist-to ./state
//   npm run make-admin -- ada@example.com --env production --remote
import { spawnSync } from "node:child_process";

const [email, ...rest] = process.argv.slice(2);
if (!email || !/^[^\s@]+@[^\s@]+$/.test(email)) {
  console.error("usage: npm run make-admin -- <email> [--env X --remote | --persist-to DIR]");
  process.exit(2);
}
const target = rest.includes("--remote") ? [] : ["--local"];
// The address as an SQL string literal: a quote doubled, as SQLite reads it (sign-up takes
// addresses with an apostrophe, so this must too).
const literal = `'${email.toLowerCase().replaceAll("'", "''")}'`;
const sql = `UPDATE users SET role = 'admin', updated_at = unixepoch('subsec') * 1000 WHERE email = ${literal} RETURNING id, email, role`;
const result = spawnSync("npx", ["wrangler", "d1", "execute", "DB", ...target, ...rest, "--json", "--command", sql], {
  stdio: ["ignore", "pipe", "inherit"],
  encoding: "utf8",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
if (result.status !== 0) {
  console.error(result.stdout);
  process.exit(result.status ?? 1);
}
const rows = JSON.parse(result.stdout)[0]?.results ?? [];
if (rows.length === 0) {
  console.error(`No user with email ${email}: sign up first, then run this again.`);
  process.exit(1);
}
console.log(`${rows[0].email} (${rows[0].id}) is now an admin.`);
