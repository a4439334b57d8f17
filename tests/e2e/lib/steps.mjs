// Ordered steps of one end-to-end story (each a node:test `it`): once a step fails, the later ones
// are reported as skipped, naming the step that broke, rather than failing again for its reason.
import { it } from 'node:test';

/**
 * A `step(name, timeoutMs, fn)` function whose steps share one "broken" state.
 * @returns {(name: string, timeoutMs: number, fn: (t: import('node:test').TestContext) => Promise<void>) => void}
 */
export function steps() {
  let broken = '';
  return function step(name, timeoutMs, fn) {
    it(name, { timeout: timeoutMs }, async (t) => {
      if (broken) {
        t.skip(`skipped: "${broken}" failed`);
        return;
      }
      try {
        await fn(t);
      } catch (e) {
        broken = name;
        throw e;
      }
    });
  };
}
