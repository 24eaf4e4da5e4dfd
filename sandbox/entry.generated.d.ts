// The type of the module scripts/build-sandbox.mjs writes (entry.generated.js, gitignored):
// committed so a fresh clone typechecks before any build.
/** The sandbox's entry module (sandbox/entry.ts bundled with the shared code it imports), as ES module source. */
export declare const SANDBOX_ENTRY: string;
/** The loop budget (sandbox/loop-budget.ts) as ES module source: the entry and the instrumented user module import it. */
export declare const SANDBOX_LOOP_BUDGET: string;
