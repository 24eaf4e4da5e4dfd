// The Prometheus text exposition format (0.0.4), read back for the admin dashboard: the
// families with their HELP and TYPE, each sample's labels (escapes undone) and value. A
// histogram's `_bucket`, `_sum` and `_count` samples (and a summary's `_sum` and `_count`)
// belong to the family their TYPE line names. Pure: no DOM, so the workers' vitest runs it.
// A line that breaks the format throws, naming the line, rather than drawing wrong figures.

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  /** The sample's own name, e.g. `x_bucket` in the family `x`. */
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, when the line gives one. */
  timestamp?: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

export type Families = Map<string, Family>;

export class MetricsParseError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const TYPES = new Set<MetricType>(["counter", "gauge", "histogram", "summary", "untyped"]);
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const SUFFIXES: Record<string, MetricType[]> = { _bucket: ["histogram"], _sum: ["histogram", "summary"], _count: ["histogram", "summary"] };

/** Go's float text as the format writes it, including NaN and the infinities. */
export function parseValue(text: string): number | undefined {
  switch (text) {
    case "NaN":
      return NaN;
    case "+Inf":
    case "Inf":
      return Infinity;
    case "-Inf":
      return -Infinity;
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

const unescapeHelp = (text: string) => text.replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\"));

export function parseMetrics(text: string): Families {
  const families: Families = new Map();
  const family = (name: string, type: MetricType = "untyped"): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type, help: "", samples: [] }));
    return f;
  };
  /** The family a sample belongs to: its own name, or the histogram/summary it is part of. */
  const owner = (sampleName: string): Family => {
    const own = families.get(sampleName);
    if (own) return own;
    for (const [suffix, types] of Object.entries(SUFFIXES)) {
      if (!sampleName.endsWith(suffix)) continue;
      const base = families.get(sampleName.slice(0, -suffix.length));
      if (base && types.includes(base.type)) return base;
    }
    return family(sampleName);
  };

  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/\r$/, "").trim();
    if (line === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s*(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
      if (!m) return; // any other comment
      const name = m[2]!;
      const rest = m[3] ?? "";
      if (m[1] === "HELP") family(name).help = unescapeHelp(rest);
      else {
        const type = rest.trim() as MetricType;
        if (!TYPES.has(type)) throw new MetricsParseError(n, `unknown type "${rest}" for ${name}`);
        const f = family(name, type);
        if (f.samples.length > 0 && f.type !== type) throw new MetricsParseError(n, `TYPE for ${name} after its samples`);
        f.type = type;
      }
      return;
    }
    const sample = parseSample(line, n);
    owner(sample.name).samples.push(sample);
  });
  return families;
}

function parseSample(line: string, n: number): Sample {
  const name = NAME.exec(line)?.[0];
  if (!name) throw new MetricsParseError(n, `no metric name in "${line}"`);
  let at = name.length;
  const skipSpaces = () => {
    while (line[at] === " " || line[at] === "\t") at++;
  };
  const labels: Record<string, string> = {};
  skipSpaces();
  if (line[at] === "{") {
    at++;
    for (;;) {
      skipSpaces();
      if (line[at] === "}") break;
      const label = LABEL_NAME.exec(line.slice(at))?.[0];
      if (!label) throw new MetricsParseError(n, `bad label name at column ${at + 1}`);
      at += label.length;
      skipSpaces();
      if (line[at] !== "=") throw new MetricsParseError(n, `"=" expected after label ${label}`);
      at++;
      skipSpaces();
      if (line[at] !== '"') throw new MetricsParseError(n, `quoted value expected for label ${label}`);
      at++;
      let value = "";
      for (;;) {
        const c = line[at];
        if (c === undefined) throw new MetricsParseError(n, `unterminated value of label ${label}`);
        at++;
        if (c === '"') break;
        if (c === "\\") {
          const next = line[at++];
          // The format defines three escapes; anything else keeps its backslash.
          value += next === "n" ? "\n" : next === "\\" ? "\\" : next === '"' ? '"' : `\\${next ?? ""}`;
        } else value += c;
      }
      if (label in labels) throw new MetricsParseError(n, `label ${label} given twice`);
      labels[label] = value;
      skipSpaces();
      if (line[at] === ",") at++;
      else if (line[at] !== "}") throw new MetricsParseError(n, `"," or "}" expected after label ${label}`);
    }
    at++;
  }
  const rest = line.slice(at).trim().split(/[ \t]+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === "") throw new MetricsParseError(n, `value expected for ${name}`);
  const value = parseValue(rest[0]!);
  if (value === undefined) throw new MetricsParseError(n, `bad value "${rest[0]}" for ${name}`);
  const sample: Sample = { name, labels, value };
  if (rest[1] !== undefined) {
    if (!/^-?\d+$/.test(rest[1])) throw new MetricsParseError(n, `bad timestamp "${rest[1]}" for ${name}`);
    sample.timestamp = Number(rest[1]);
  }
  return sample;
}
