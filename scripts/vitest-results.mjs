// A vitest reporter for CI (scripts/vitest-ci.mjs): appends one JSON line to the file
// named by VITEST_RESULTS as each test file starts and ends, so the results of a run that is stopped
// part way are not lost: the files of the run, then each file's counts, then the run's end
// with its unhandled errors.
import { appendFileSync } from "node:fs";

const write = (record) => appendFileSync(process.env.VITEST_RESULTS, `${JSON.stringify(record)}\n`);

export default class FileResults {
  onTestRunStart(specifications) {
    write({ files: specifications.map((s) => s.moduleId) });
  }

  // A file's start, so a stalled run can name the files it was in (scripts/vitest-ci.mjs).
  onTestModuleStart(testModule) {
    write({ started: testModule.moduleId });
  }

  onTestModuleEnd(testModule) {
    const counts = { passed: 0, failed: 0, skipped: 0, pending: 0 };
    for (const test of testModule.children.allTests()) counts[test.result().state] += 1;
    // errors(): the file's own, e.g. one that failed to load or a failing hook.
    write({ file: testModule.moduleId, ...counts, errors: testModule.errors().length });
  }

  onTestRunEnd(_testModules, unhandledErrors, reason) {
    write({ end: reason, unhandled: unhandledErrors.length });
  }
}
