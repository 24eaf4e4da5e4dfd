// workerd's own log lines do not go through vitest's console capture (so onConsoleLog in
// vitest.config.ts never sees them): @cloudflare/vitest-pool-workers hands them to its
// structured-log handler, which writes each one with a single process.stdout/stderr
// write in this (the main) process, and the pool offers no option to change that. Two
// kinds come by the dozen in a healthy run and would bury the report:
//   - the restarts the tests inject with state.abort("test restart") (test/trading/
//     faults.test.ts and others), each logged as an uncaught exception with a stack;
//   - "WebSocket peer disconnected", logged when a test or a feed closes a socket;
//   - the two lines of a request body the gateway stops reading (an upload refused as too
//     large mid-stream): the pipe's "read end ... aborted" and the sender's "Network
//     connection lost";
//   - the runtime's lines for a webhook sent where nothing answers (a closed port, a name
//     that does not resolve), logged although the delivery catches the failure.
// Exactly those lines are counted instead of printed; every other line passes untouched.
// SHOW_WORKERD_NOISE=1 prints them as before.

interface Noise {
  what: string;
  /** Matches the whole of one write: the log line (and its stack) and nothing else. */
  line: RegExp;
}

const EXPECTED: Noise[] = [
  {
    what: '"test restart" exceptions the tests injected with state.abort()',
    line: /^uncaught exception; exception = \S+: failed: broken\.outputGateBroken; jsg\.Error: test restart\n(stack:[^\n]*\n)?$/,
  },
  {
    what: '"WebSocket peer disconnected" lines',
    line: /^exception = workerd\/api\/web-socket\.c\+\+:\d+: disconnected: WebSocket peer disconnected\n$/,
  },
  {
    what: "lines of a streamed request body cut off by a refusal",
    line: /^(exception = kj\/async-io\.c\+\+:\d+: disconnected: read end of pipe was aborted\n(stack:[^\n]*\n)?|uncaught exception; source = Uncaught \(in promise\); stack = Error: Network connection lost\.\n)$/,
  },
  {
    // test/webhooks.test.ts sends to a closed port and to a name that does not resolve: the
    // runtime logs its fetch's failure although the delivery catches it.
    what: "lines of a fetch that found no one (a webhook to a closed port or a name that does not resolve, a peer gone)",
    line: /^uncaught exception; (exception = \S+: (disconnected|failed): jsg\.Error: (Network connection lost\.|internal error; reference = \w+)|source = Uncaught \(in promise\); stack = Error: internal error; reference = \w+)\n(stack:[^\n]*\n)?$/,
  },
];

type Write = (chunk: unknown, ...rest: unknown[]) => boolean;

/**
 * Starts hiding the expected lines on stdout and stderr; the returned function answers
 * what was hidden so far. Hiding goes on to the end of the process: the pool closes its
 * sockets (one more "peer disconnected") after the global teardown.
 */
export function hideExpectedWorkerdNoise(): () => string | null {
  if (process.env.SHOW_WORKERD_NOISE === "1") return () => null;
  const hidden = new Map<Noise, number>();
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as Write;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8") : "";
      const noise = EXPECTED.find((n) => n.line.test(text));
      if (!noise) return write(chunk, ...rest);
      hidden.set(noise, (hidden.get(noise) ?? 0) + 1);
      const done = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof stream.write;
  }
  return () => {
    if (hidden.size === 0) return null;
    const counts = [...hidden].map(([noise, n]) => `${n} × ${noise.what}`).join(", ");
    return `workerd log lines hidden as expected: ${counts} (SHOW_WORKERD_NOISE=1 shows them)`;
  };
}
