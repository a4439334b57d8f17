// This tab's id: kept across reloads (sessionStorage belongs to the tab), never shared. A
// duplicated tab gets a copy of sessionStorage too, so the id is also claimed with a Web Lock
// that the page holds until it is gone: a tab whose stored id is locked by another live tab
// takes a fresh one.

/**
 * The id this tab joins `ring` with.
 * @param {string} ring
 * @returns {Promise<string | undefined>} undefined: let the peer pick (no sessionStorage)
 */
export async function claimId(ring) {
  const key = `chord.id.${ring}`;
  let stored = null;
  try { stored = sessionStorage.getItem(key); } catch { return undefined; }
  if (stored && /^[0-9a-f]{40}$/.test(stored) && await lockId(stored)) return stored;
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(20));
    const id = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (await lockId(id)) {
      try { sessionStorage.setItem(key, id); } catch { /* private mode: the id lasts this page */ }
      return id;
    }
  }
}

/** Holds the Web Lock `chord-id-<id>` for the life of the page; false if another tab holds it. @param {string} id */
function lockId(id) {
  if (!navigator.locks) return Promise.resolve(true);
  return new Promise((resolve) => {
    navigator.locks.request(`chord-id-${id}`, { ifAvailable: true }, (lock) => {
      resolve(lock !== null);
      return lock ? new Promise(() => {}) : undefined;
    }).catch(() => resolve(true));
  });
}
