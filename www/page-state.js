// The page's one piece of shared mutable state, in one place: which peer it drives, where it is in
// its life, and what it remembers about the values it stored and holds. Every module that needs
// it imports this object; nothing else is shared between modules.

/** @typedef {import("./pkg/chord.js").ChordPeer} ChordPeer */

export const page = {
  /** The joined peer; null before the join and after a failed one. @type {ChordPeer | null} */
  peer: null,
  /** Lifecycle as the page sees it. @type {"loading"|"joining"|"joined"|"left"|"error"} */
  phase: "loading",
  /** Keys stored from this tab, newest last: drawn on the ring. @type {{name: string, key: string}[]} */
  storedKeys: [],
  /** Names of the values this tab holds, by key (from state().records), for `dropped` events. @type {Map<string, string>} */
  heldNames: new Map(),
  /** Whether the join completed once: a later "idle" or "joining" status means the ring was lost. */
  joinedOnce: false,
};
