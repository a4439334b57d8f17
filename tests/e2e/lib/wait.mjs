// Bounded waiting: every wait in the end-to-end tests has a deadline.

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves like `promise`, or rejects once `ms` milliseconds have passed.
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {string} what  named in the timeout error
 * @returns {Promise<T>}
 */
export function withTimeout(promise, ms, what = 'operation') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Thrown by a `waitFor` condition to stop waiting at once (the awaited thing cannot happen any more). */
export class GiveUp extends Error {}

/**
 * Polls `cond` until it returns a truthy value (which is returned), for at most `timeoutMs`.
 * An exception from `cond` counts as "not yet" and is reported if the deadline passes, except a
 * `GiveUp`, which is rethrown at once.
 * Each call of `cond` is itself bounded by the time left.
 *
 * @template T
 * @param {() => T | Promise<T>} cond
 * @param {number} timeoutMs
 * @param {{ what?: string, interval?: number, detail?: () => string }} [opts]
 *   `what` names the condition in the error; `detail` adds the last observation to it.
 * @returns {Promise<T>}
 */
export async function waitFor(cond, timeoutMs, { what = 'condition', interval = 250, detail } = {}) {
  const start = Date.now();
  const deadline = start + timeoutMs;
  let lastError;
  for (;;) {
    const left = deadline - Date.now();
    if (left > 0) {
      try {
        const value = await withTimeout(Promise.resolve().then(cond), left, what);
        if (value) return value;
        lastError = undefined;
      } catch (e) {
        if (e instanceof GiveUp) throw e;
        lastError = e;
      }
    }
    if (Date.now() >= deadline) {
      let msg = `timed out after ${timeoutMs} ms waiting for ${what}`;
      if (lastError) msg += `\n  last error: ${lastError.stack ?? lastError}`;
      if (detail) {
        try {
          msg += `\n  last seen: ${detail()}`;
        } catch {
          // detail is best effort
        }
      }
      throw new Error(msg);
    }
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
}
