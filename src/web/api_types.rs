//! TypeScript types of the JS API, emitted into the generated `chord.d.ts`.
//!
//! wasm-bindgen types options and results as `any`; these declarations give
//! JavaScript and TypeScript users the real shapes. Keep them in step with
//! `options.rs` (what `join` reads) and `snapshot.rs` (what `state()` returns).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Options of `ChordPeer.join`. Every field but `signalingUrl` is optional. */
export interface JoinOptions {
  /** WebSocket URL of the bootstrap signaling server, e.g. `ws://127.0.0.1:8080/ws`. */
  signalingUrl: string;
  /** Ring name (letters, digits, `_`, `-`); independent rings share a server. Default `"default"`. */
  ring?: string;
  /** Copies kept of each value (the key's successor and the next `replicas - 1`). Default 3. */
  replicas?: number;
  /** Keep only 127.0.0.1 / ::1 ICE candidates (tests and single-machine demos). Default false. */
  loopbackOnly?: boolean;
  /** Mean stabilize period in ms. Default 1000. */
  stabilizeMs?: number;
  /** Mean fix-fingers period in ms (one finger lookup each). Default 250. */
  fixFingersMs?: number;
  /** Mean check-predecessor period in ms. Default 1000. */
  checkPredecessorMs?: number;
  /** Mean period in ms of the neighbour probe (a ping to every successor, finger and the
   *  predecessor; a peer silent for 3 s is dropped). 0 turns it off. Default 1000. */
  probeMs?: number;
  /** Give up joining after this many ms. Default 20000. */
  joinTimeoutMs?: number;
  /** The node id (40 hex digits). Default: fresh random bits. Two live peers of a ring must never
   *  share one: the page keeps its id in sessionStorage and claims it with a Web Lock. */
  id?: string;
  /** Called for every ring change (see `ChordEvent`). */
  onEvent?: (event: ChordEvent) => void;
}

/** What `put` resolves to. */
export interface PutResult {
  /** SHA-1 of the name, 40 hex digits. */
  key: string;
  /** Id of the node that stored it (the key's successor, its primary). */
  node: string;
  /** Overlay hops the request took (0 for files over 16 KiB: they go over a direct link). */
  hops: number;
  /** Bytes stored. */
  size: number;
  /** SHA-1 of the content, 40 hex digits. */
  digest: string;
  /** The version the primary gave it: a re-put of a name gets a higher `seq`. */
  version: Version;
}

/** A value's version: `seq` from the key's primary, and the writer's id. */
export interface Version {
  seq: number;
  writer: string;
}

/** Progress of a put or get, in bytes. Puts of files over 16 KiB go through `storing` (hashing and
 *  copying into this tab's IndexedDB) then `sending` (the key's primary copies it); gets report `receiving`. */
export interface Progress {
  phase: "storing" | "sending" | "receiving";
  done: number;
  total: number;
}

/** Options of `put` and `get`. */
export interface TransferOptions {
  /** Called as bytes move (at most about a hundred times per phase for large files). */
  onProgress?: (progress: Progress) => void;
  /** Aborting it cancels the transfer; the promise rejects with an Error whose message starts "Cancelled". */
  signal?: AbortSignal;
}

/** A value this tab holds. */
export interface HeldRecord {
  key: string;
  /** The file name ("" if it was stored by key only). */
  name: string;
  size: number;
  /** SHA-1 of the content. */
  digest: string;
  version: Version;
  /** `"primary"` (this tab is the key's successor), `"replica"` or `"other"` (in transit after churn). */
  role: "primary" | "replica" | "other";
  /** Whether the bytes ride in the record (values up to 16 KiB) rather than in IndexedDB chunks. */
  inline: boolean;
  /** Whether all the bytes are in this tab (a replica may still be copying them). */
  complete: boolean;
}

/** A run of fingers that all point at the same node. */
export interface FingerRun {
  /** First finger index (0..159). */
  from: number;
  /** Last finger index, inclusive. */
  to: number;
  /** The node, 40 hex digits. */
  node: string;
}

/** A WebRTC link to another peer. */
export interface LinkInfo {
  /** The peer's id. */
  peer: string;
  /** `"connecting"` or `"open"`. */
  state: "connecting" | "open";
  /** How it was signaled: `"server"` (the bootstrap introduction) or `"ring"`. */
  via: "server" | "ring";
  /** Whether the Chord tables need it (predecessor, successor list, fingers). */
  wanted: boolean;
}

/** `peer.state()`: a snapshot of the routing state. */
export interface PeerState {
  id: string;
  ring: string;
  status: "idle" | "joining" | "joined" | "left";
  predecessor: string | null;
  /** Successor list, nearest first. */
  successors: string[];
  fingers: FingerRun[];
  /** Number of values this tab holds (own and replicas). */
  keys: number;
  /** The values this tab holds, in key order. */
  records: HeldRecord[];
  /** Size of this peer's WebAssembly memory in bytes (file bytes are not kept there). */
  wasmMemoryBytes: number;
  links: LinkInfo[];
  /** `"connected"`, `"connecting"` or `"closed"`: the ring keeps working while it is closed. */
  server: "connected" | "connecting" | "closed";
  /** RTCPeerConnections this page has created (Chromium allows about 500 per page). */
  connectionsCreated: number;
  /** Envelopes of ring signaling this peer forwarded for others. */
  signalsForwarded: number;
  /** Times this peer found a neighbour silent (3 s by default) and dropped it from its tables. */
  peersDeclaredDead: number;
  /** Reply deadlines that passed while this tab itself was stalled; they were given more time. */
  lateTimeouts: number;
  /** What this tab received from other peers and refused, by reason (counts since it started):
   *  Chord frames that were malformed, oversized, of another version, over a limit, unsolicited
   *  (answers to nothing it asked, or from the wrong peer), for a ring it is not in, with a bad path,
   *  beyond a full store, or carrying a corrupt record; file frames that did not decode; ring
   *  signaling envelopes dropped. */
  rejected: {
    malformed: number; oversized: number; version: number; limit: number; unsolicited: number;
    notJoined: number; badPath: number; storeFull: number; corrupt: number;
    transferMalformed: number; signalsDropped: number;
  };
  /** Where the maintenance timer runs: `"worker"` (not throttled in hidden tabs) or `"page"` (fallback). */
  timer: "worker" | "page";
}

/** A ring change, passed to `JoinOptions.onEvent`. */
export type ChordEvent =
  | { type: "joined"; successor: string }
  | { type: "successor"; successor: string | null }
  | { type: "predecessor"; predecessor: string | null }
  | { type: "link_open"; peer: string; via: "server" | "ring" }
  | { type: "link_closed"; peer: string }
  | { type: "server"; state: "connected" | "closed" }
  | { type: "lost_ring" }
  | { type: "left" }
  /** A holder served bytes that do not match the value's SHA-1; another holder was asked. */
  | { type: "bad_holder"; peer: string; key: string; name: string }
  /** This tab now holds a value (new, a newer version, or a replica). */
  | { type: "stored"; key: string; name: string; size: number }
  /** This tab no longer holds a value (handed on). */
  | { type: "dropped"; key: string };
"#;
