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
  /** WebSocket URL of the bootstrap signaling server, e.g. `ws://127.0.0.1:8080/ws`, or a list of
   *  them. The tab keeps a connection to each (`PeerState.servers`), joins through the first one that
   *  introduces it to a member, founds a ring only when none can, and, once in the ring, reopens any
   *  that closes (0.5 s doubling to 8 s, jittered) and announces itself there as a member. */
  signalingUrl: string | string[];
  /** STUN/TURN servers for every link, instead of those the signaling server sends. Default: the
   *  server's (none if it sends none: then only host candidates, enough on one network). */
  iceServers?: RTCIceServer[];
  /** `"relay"` forces every link through a TURN server (no direct path is even tried); `"all"` lets
   *  ICE pick the best path. Default `"all"`. */
  iceTransportPolicy?: IcePolicy;
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
  /** Files over 16 KiB: tabs that held the bytes when the put resolved (the primary and the replicas
   *  that had copied them). null for smaller values (their bytes ride in the record itself). */
  holders: number | null;
  /** Files over 16 KiB: whether `holders` reached the copies the ring keeps (`JoinOptions.replicas`,
   *  or fewer in a ring of fewer tabs). False after `{durability: 1}`, or when a copy did not finish
   *  within the wait (30 s without progress). null for smaller values. */
  durable: boolean | null;
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

/** The `code` of every `Error` the API throws or rejects with (`err.code`; `err.message` says it in
 *  words for people, and its wording may change: decide by the code). Worth a retry: `"not_sure"` —
 *  the ring is still settling and could not confirm whether it holds the file (this is not "not
 *  found"); `"timeout"` — no node answered; `"busy"` — too many requests in flight here or on the way.
 *  This tab: `"cancelled"` — the `signal` aborted it; `"not_joined"` — not in a ring (it left, or lost
 *  every neighbour and is rejoining); `"left"` — it left while the request ran; `"storage"` — its
 *  IndexedDB failed; `"quota"` — its storage quota is full; `"invalid"` — bad arguments or options;
 *  `"too_large"` — the name or file is over the limits. The ring: `"store_full"` — the tab
 *  responsible has no room; `"no_route"` — routing found no live next hop; `"no_holder"` — no tab
 *  holding the file's bytes could serve them; `"refused"` — the tab responsible did not commit it;
 *  `"corrupt"` — every copy found was corrupt; `"bad_answer"` — answers of the wrong kind;
 *  `"primary_gone"` — the tab responsible stopped answering while copying it. `join` only:
 *  `"id_taken"` — a live tab of the ring has this id; `"no_path"` — no network path to the member the
 *  server introduced (a TURN server may be needed); `"join_failed"` — anything else. `"failed"` —
 *  `state()` could not be built. */
export type ErrorCode =
  | "not_sure" | "timeout" | "busy" | "cancelled" | "not_joined" | "left" | "storage" | "quota"
  | "invalid" | "too_large" | "store_full" | "no_route" | "no_holder" | "refused" | "corrupt"
  | "bad_answer" | "primary_gone" | "id_taken" | "no_path" | "join_failed" | "failed";

/** What every method of `ChordPeer` throws or rejects with. */
export interface ChordError extends Error {
  code: ErrorCode;
}

/** One signaling server of this tab: `state().servers`. */
export interface ServerInfo {
  /** Its WebSocket URL, as given in `JoinOptions.signalingUrl`. */
  url: string;
  state: "connected" | "connecting" | "closed";
  /** Times the connection was opened again after it closed (server restarts, network loss). */
  reconnects: number;
}

/** Options of `put` and `get`. */
export interface TransferOptions {
  /** Called as bytes move (at most about a hundred times per phase for large files). */
  onProgress?: (progress: Progress) => void;
  /** Aborting it cancels the transfer; the promise rejects with an Error whose message starts "Cancelled"
   *  (`code` `"cancelled"`). */
  signal?: AbortSignal;
  /** `put` of a file over 16 KiB: resolve once this many tabs hold the bytes. Default: the copies the
   *  ring keeps (`JoinOptions.replicas`, 3), so the put survives the loss of any two of them at once;
   *  `1` resolves as soon as the key's primary stored it (faster; `PutResult.durable` is then false). */
  durability?: number;
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

/** Which ICE paths may be used: any (`"all"`) or only through a TURN server (`"relay"`). */
export type IcePolicy = "all" | "relay";

/** Kind of an ICE candidate (RTCIceCandidate.type): the tab's own address (`"host"`), its public
 *  address as a STUN server saw it (`"srflx"`), one the other side saw it send from (`"prflx"`), or
 *  an address on a TURN server (`"relay"`). */
export type CandidateType = "host" | "srflx" | "prflx" | "relay";

/** The path a link took: the candidate types of the pair ICE selected (from `getStats`). The link
 *  goes through a TURN server when either side is `"relay"`; otherwise it is direct. */
export interface IcePath {
  /** This tab's end. */
  local: CandidateType;
  /** The other peer's end. */
  remote: CandidateType;
}

/** A STUN or TURN server in use; its credentials are never shown. */
export interface IceServerInfo {
  urls: string[];
}

/** How this peer traverses NATs: `state().ice`. */
export interface IceState {
  /** The STUN/TURN servers in use (empty: host candidates only, enough on one network). */
  servers: IceServerInfo[];
  /** `JoinOptions.iceTransportPolicy`. */
  policy: IcePolicy;
  /** Where `servers` came from: the signaling server, `JoinOptions.iceServers`, or nowhere. */
  source: "server" | "options" | "none";
  /** Times the signaling server sent fresh TURN credentials. */
  refreshes: number;
}

/** Why a link could not be made: this tab gathered no ICE candidate at all (`"no_candidates"`),
 *  ICE found no working path (`"no_path"`; a TURN server may be needed), it took too long
 *  (`"timeout"`), the other peer refused it, being at its link limit (`"refused"`), no ring
 *  member could carry the offer to that peer (`"unreachable"`: it is not in this tab's ring yet,
 *  as while two rings merge), or its data channel opened but accepts messages of under 16 KiB
 *  only (`"message_limit"`: too small for the protocol; that peer is not tried again for 60 s),
 *  or it was not tried: this tab had opened its budget of links to peers outside its Chord tables
 *  (6 in 30 s) already (`"budget"`; a remote peer cannot make the tab spend its connections). */
export type LinkFailureReason = "no_candidates" | "no_path" | "timeout" | "refused" | "unreachable" | "message_limit" | "budget";

/** A WebRTC link to another peer. */
export interface LinkInfo {
  /** The peer's id. */
  peer: string;
  /** `"connecting"`, `"open"`, or `"restarting"`: its path failed and an ICE restart is under way
   *  (the link stays in the tables meanwhile). */
  state: "connecting" | "open" | "restarting";
  /** How it was signaled: `"server"` (the bootstrap introduction) or `"ring"`. */
  via: "server" | "ring";
  /** Whether the Chord tables need it (predecessor, successor list, fingers). */
  wanted: boolean;
  /** The selected candidate pair; null until connected. */
  candidates: IcePath | null;
  /** Round-trip time of the selected candidate pair in ms; null until measured. */
  rttMs: number | null;
  /** The largest message the other peer's end accepts, in bytes (`RTCSctpTransport.maxMessageSize`:
   *  262144 when either end is Chromium, 1073741823 between two Firefoxes); 0 means no limit; null
   *  until the link is open. No frame above it is sent: file chunks go in parts that fit. */
  maxMessageSize: number | null;
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
  /** `"connected"` if any signaling server is, else `"connecting"` if any is, else `"closed"`:
   *  the ring keeps working while they are closed. */
  server: "connected" | "connecting" | "closed";
  /** Each signaling server, in the order given. */
  servers: ServerInfo[];
  /** The first signaling server connected (one of `JoinOptions.signalingUrl`); null while none is. */
  signalingUrl: string | null;
  /** STUN/TURN servers and policy of the links. */
  ice: IceState;
  /** Links that could not be made, by `LinkFailureReason` (counts since the tab started). */
  linkFailures: {
    noCandidates: number; noPath: number; timeout: number; refused: number; unreachable: number; messageLimit: number;
    budget: number;
  };
  /** ICE restarts of links whose path failed: begun, that found a path again, that did not. */
  iceRestarts: { started: number; succeeded: number; failed: number };
  /** RTCPeerConnections this page has created (Chromium allows about 500 per page). */
  connectionsCreated: number;
  /** Envelopes of ring signaling this peer forwarded for others. */
  signalsForwarded: number;
  /** Times this peer found a neighbour gone (silent for 3 s by default, or unreachable once its link closed) and dropped it from its tables. */
  peersDeclaredDead: number;
  /** Times a link to a ring neighbour closed under this tab; each such neighbour is checked at once. */
  neighbourLinksLost: number;
  /** Of peersDeclaredDead: neighbours whose link closed and that no other member could reach (a closed or crashed tab). */
  deadByTransport: number;
  /** Reply deadlines that passed while this tab itself was stalled; they were given more time. */
  lateTimeouts: number;
  /** Frames this tab did not send because they were larger than the other end of their link accepts
   *  (`LinkInfo.maxMessageSize`); each is lost like a dropped message. */
  framesTooLarge: number;
  /** What this tab received from other peers and refused, by reason (counts since it started):
   *  Chord frames that were malformed, oversized, of another version, over a limit, unsolicited
   *  (answers to nothing it asked, or from the wrong peer), for a ring it is not in, with a bad path,
   *  beyond a full store, or carrying a corrupt record; file frames that did not decode; ring
   *  signaling envelopes dropped; data-channel messages refused because their link's receive queue
   *  was full (`queueFull`: the link was closed, and what it carried is retried over another). */
  rejected: {
    malformed: number; oversized: number; version: number; limit: number; unsolicited: number;
    notJoined: number; badPath: number; storeFull: number; corrupt: number;
    transferMalformed: number; signalsDropped: number; queueFull: number;
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
  /** A link's path failed; an ICE restart is under way. */
  | { type: "link_restarting"; peer: string }
  /** A link could not be made; `reason` says why. */
  | { type: "link_failed"; peer: string; reason: LinkFailureReason }
  /** The signaling server sent fresh TURN credentials; these servers are now in use. */
  | { type: "ice_servers"; servers: IceServerInfo[] }
  /** A signaling server's connection opened or closed. */
  | { type: "server"; state: "connected" | "closed"; url: string }
  | { type: "lost_ring" }
  | { type: "left" }
  /** A holder served bytes that do not match the value's SHA-1; another holder was asked. */
  | { type: "bad_holder"; peer: string; key: string; name: string }
  /** This tab now holds a value (new, a newer version, or a replica). */
  | { type: "stored"; key: string; name: string; size: number }
  /** This tab no longer holds a value (handed on). */
  | { type: "dropped"; key: string };
"#;
