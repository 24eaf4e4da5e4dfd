// A sign-in's client as the sessions table names it. No JSX here: tests import it.

const BROWSERS: [RegExp, string][] = [
  [/Edg\/(\d+)/, "Edge"],
  [/OPR\/(\d+)/, "Opera"],
  [/Firefox\/(\d+)/, "Firefox"],
  [/Chrom(?:e|ium)\/(\d+)/, "Chrome"],
  [/Version\/(\d+)[^ ]* (?:Mobile\/\S+ )?Safari\//, "Safari"],
];
const SYSTEMS: [RegExp, string][] = [
  [/Android/, "Android"],
  [/iPhone|iPad/, "iOS"],
  [/Windows/, "Windows"],
  [/Mac OS X|Macintosh/, "macOS"],
  [/CrOS/, "ChromeOS"],
  [/Linux/, "Linux"],
];

/**
 * A User-Agent as people name a client ("Chrome 131 · Linux"); a program's is its first
 * product token ("python-requests/2.32"). The whole text stays in the cell's title. Shown
 * whole, one browser's sessions all read "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/53…"
 * and pushed the End buttons out of sight (found in QA).
 */
export function clientName(agent: string | null): string {
  if (!agent) return "unknown client";
  const browser = BROWSERS.find(([re]) => re.test(agent));
  if (!browser) return agent.split(" ")[0]!.slice(0, 40);
  const version = browser[0].exec(agent)![1];
  const system = SYSTEMS.find(([re]) => re.test(agent))?.[1];
  return `${browser[1]} ${version}${system ? ` · ${system}` : ""}`;
}
