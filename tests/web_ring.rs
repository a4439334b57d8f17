//! The browser peer in headless Chromium: several `ChordPeer`s in one page,
//! over real `RTCPeerConnection`s and the real signaling server.
//!
//! `make test-browser` starts `chord-signaling` on 127.0.0.1:8090 (override
//! at build time with `CHORD_TEST_SIGNAL_URL`) inside a network namespace
//! that has only loopback, and runs this file with wasm-bindgen-test-runner.
#![cfg(target_arch = "wasm32")]

use chord::web::ChordPeer;
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SIGNAL_URL: &str = match option_env!("CHORD_TEST_SIGNAL_URL") {
    Some(url) => url,
    None => "ws://127.0.0.1:8090/ws",
};

fn options(ring: &str, extra: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    set(&o, "signalingUrl", SIGNAL_URL.into());
    set(&o, "ring", ring.into());
    set(&o, "loopbackOnly", true.into());
    set(&o, "stabilizeMs", 300.into());
    set(&o, "fixFingersMs", 200.into());
    for (k, v) in extra {
        set(&o, k, v.clone());
    }
    o.into()
}

fn set(o: &Object, k: &str, v: JsValue) {
    Reflect::set(o, &k.into(), &v).unwrap();
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

/// A ring name no other test (or earlier run against the same server) uses.
fn fresh_ring(prefix: &str) -> String {
    format!("{prefix}-{}", (js_sys::Math::random() * 1e12) as u64)
}

fn message(e: JsValue) -> String {
    e.dyn_into::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|v| format!("{v:?}"))
}

async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// The bytes of the `Blob` a get resolved to.
async fn bytes_of(v: &JsValue) -> Vec<u8> {
    let blob: web_sys::Blob = v.clone().dyn_into().expect("get resolves to a Blob");
    let buf = JsFuture::from(blob.array_buffer()).await.expect("readable");
    Uint8Array::new(&buf).to_vec()
}

fn put(p: &ChordPeer, name: &str, data: &[u8], opts: JsValue) -> JsFuture {
    JsFuture::from(p.put(name.into(), Uint8Array::from(data).into(), opts))
}

async fn join(opts: JsValue) -> ChordPeer {
    match ChordPeer::join(opts).await {
        Ok(p) => p,
        Err(e) => panic!("join failed: {}", message(e)),
    }
}

/// Whether every peer's predecessor and first successor match the sorted ids.
fn ring_is_correct(peers: &[ChordPeer]) -> bool {
    let mut ids: Vec<String> = peers.iter().map(|p| p.id()).collect();
    ids.sort();
    let n = ids.len();
    peers.iter().all(|p| {
        let st = p.state().unwrap();
        let me = ids.iter().position(|i| *i == p.id()).unwrap();
        let succ = Array::from(&get(&st, "successors")).get(0).as_string();
        let pred = get(&st, "predecessor").as_string();
        get(&st, "status").as_string().as_deref() == Some("joined")
            && succ.as_deref() == Some(ids[(me + 1) % n].as_str())
            && pred.as_deref() == Some(ids[(me + n - 1) % n].as_str())
    })
}

#[wasm_bindgen_test]
async fn four_peers_form_a_ring_and_share_a_file() {
    let ring = fresh_ring("wbt-ring");
    let joined_events = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let counter = joined_events.clone();
    let peers_seen: std::rc::Rc<std::cell::RefCell<Vec<ChordPeer>>> = Default::default();
    let seen = peers_seen.clone();
    let on_event = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
        if get(&ev, "type").as_string().as_deref() == Some("joined") {
            counter.set(counter.get() + 1);
        }
        // The callback may call back into a peer.
        for p in seen.borrow().iter() {
            assert!(p.state().is_ok());
        }
    });
    let f: &Function = on_event.as_ref().unchecked_ref();
    let mut peers = Vec::new();
    for _ in 0..4 {
        let p = join(options(&ring, &[("onEvent", f.clone().into())])).await;
        peers_seen.borrow_mut().push(p.clone());
        peers.push(p);
    }
    sleep(50).await;
    assert_eq!(joined_events.get(), 4, "every peer reports `joined` once");
    for p in &peers {
        // Maintenance is timed by a worker, which hidden tabs do not throttle.
        assert_eq!(get(&p.state().unwrap(), "timer").as_string().as_deref(), Some("worker"));
    }
    let mut waited = 0;
    while !ring_is_correct(&peers) {
        assert!(waited < 15_000, "ring not correct after 15 s");
        sleep(100).await;
        waited += 100;
    }
    // Links beyond each newcomer's introduction were signaled through the ring.
    let ring_links: u32 = peers
        .iter()
        .map(|p| {
            Array::from(&get(&p.state().unwrap(), "links")).iter().filter(|l| get(l, "via").as_string().as_deref() == Some("ring")).count()
                as u32
        })
        .sum();
    assert!(ring_links > 0, "no link was signaled through the ring");
    // Every open link shows what its other end accepts (RTCSctpTransport.maxMessageSize):
    // 262144 in Chromium, 1073741823 between two Firefoxes; 0 would mean no limit.
    for p in &peers {
        for l in Array::from(&get(&p.state().unwrap(), "links")).iter().filter(|l| get(l, "state").as_string().as_deref() == Some("open")) {
            let max = get(&l, "maxMessageSize").as_f64();
            assert!(max.is_some_and(|m| m == 0.0 || m >= 262_144.0), "maxMessageSize {max:?} of an open link");
        }
    }

    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 + 3) as u8).collect();
    let name = "notes from the ring — ünïcödé.txt";
    let put = put(&peers[0], name, &data, JsValue::UNDEFINED).await.map_err(message).unwrap();
    assert_eq!(get(&put, "key").as_string().unwrap(), ChordPeer::key_of(name));
    assert!(get(&put, "hops").as_f64().is_some());
    for p in &peers[1..] {
        let got = JsFuture::from(p.get(name.into(), JsValue::UNDEFINED)).await.map_err(message).unwrap();
        assert_eq!(bytes_of(&got).await, data, "peer {} got other bytes", p.id());
    }
    let missing = JsFuture::from(peers[2].get("no such file".into(), JsValue::UNDEFINED)).await.map_err(message).unwrap();
    assert!(missing.is_undefined());
    for p in &peers {
        JsFuture::from(p.leave()).await.map_err(message).unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_value_survives_its_holder_leaving() {
    let ring = fresh_ring("wbt-leave");
    let mut peers = Vec::new();
    for _ in 0..3 {
        peers.push(join(options(&ring, &[("replicas", 1.into())])).await);
    }
    let mut waited = 0;
    while !ring_is_correct(&peers) {
        assert!(waited < 15_000, "ring not correct after 15 s");
        sleep(100).await;
        waited += 100;
    }
    let put = put(&peers[0], "handed over", b"still here", JsValue::UNDEFINED).await.map_err(message).unwrap();
    let holder = get(&put, "node").as_string().unwrap();
    let (leaving, staying): (Vec<ChordPeer>, Vec<ChordPeer>) = peers.into_iter().partition(|p| p.id() == holder);
    // With one replica, only the hand-over on leave keeps the value alive.
    JsFuture::from(leaving[0].leave()).await.map_err(message).unwrap();
    let mut waited = 0;
    loop {
        match JsFuture::from(staying[0].get("handed over".into(), JsValue::UNDEFINED)).await {
            Ok(v) if !v.is_undefined() => {
                assert_eq!(bytes_of(&v).await, b"still here");
                break;
            }
            other => {
                assert!(waited < 15_000, "value lost after its holder left: {:?}", other.map_err(message));
                sleep(200).await;
                waited += 200;
            }
        }
    }
}

#[wasm_bindgen_test]
async fn an_unreachable_server_is_reported_in_words() {
    let o = options(&fresh_ring("wbt-down"), &[("signalingUrl", "ws://127.0.0.1:9/ws".into())]);
    let err = ChordPeer::join(o).await.err().map(message).expect("join must fail");
    assert!(err.contains("cannot reach the signaling server at ws://127.0.0.1:9/ws"), "{err}");
}

/// A list of signaling servers: the tab connects to each, a dead first one
/// costs only its refusal; every one dead is reported with all their URLs.
#[wasm_bindgen_test]
async fn signaling_servers_are_tried_in_order() {
    let dead = "ws://127.0.0.1:9/ws";
    let urls = js_sys::Array::of2(&dead.into(), &SIGNAL_URL.into());
    let peer = join(options(&fresh_ring("wbt-list"), &[("signalingUrl", urls.into())])).await;
    let st = peer.state().unwrap();
    assert_eq!(get(&st, "signalingUrl").as_string().as_deref(), Some(SIGNAL_URL));
    assert_eq!(get(&get(&st, "ice"), "source").as_string().as_deref(), Some("none"), "this test server sends no ICE servers");
    JsFuture::from(peer.leave()).await.map_err(message).unwrap();
    let both_dead = js_sys::Array::of2(&dead.into(), &"ws://127.0.0.1:10/ws".into());
    let err = ChordPeer::join(options(&fresh_ring("wbt-list"), &[("signalingUrl", both_dead.into())]))
        .await
        .err()
        .map(message)
        .expect("join must fail");
    assert!(err.contains("cannot reach any of the signaling servers ws://127.0.0.1:9/ws, ws://127.0.0.1:10/ws"), "{err}");
}

/// The application's own ICE servers are taken as given (and shown without
/// credentials); the join still works on loopback with a STUN server that
/// does not exist, because candidates trickle and no link waits for it.
#[wasm_bindgen_test]
async fn own_ice_servers_are_used_and_shown_without_credentials() {
    let servers = js_sys::JSON::parse(
        r#"[{"urls":"stun:127.0.0.1:3478"},{"urls":["turn:127.0.0.1:3478?transport=udp"],"username":"u","credential":"s3cret"}]"#,
    )
    .unwrap();
    let ring = fresh_ring("wbt-ice");
    let a = join(options(&ring, &[("iceServers", servers.clone())])).await;
    let b = join(options(&ring, &[("iceServers", servers)])).await;
    let st = b.state().unwrap();
    let ice = get(&st, "ice");
    assert_eq!(get(&ice, "source").as_string().as_deref(), Some("options"));
    assert_eq!(get(&ice, "policy").as_string().as_deref(), Some("all"));
    let shown = js_sys::JSON::stringify(&get(&ice, "servers")).unwrap().as_string().unwrap();
    assert_eq!(shown, r#"[{"urls":["stun:127.0.0.1:3478"]},{"urls":["turn:127.0.0.1:3478?transport=udp"]}]"#);
    // The link between the two is direct once measured: loopback addresses, no relay. Chromium
    // reports the pair as host/host; Firefox sometimes names a loopback side "prflx" (the
    // address the other side saw), which is the same direct path.
    let mut waited = 0;
    loop {
        let links = js_sys::Array::from(&get(&b.state().unwrap(), "links"));
        let pair = links.iter().find(|l| get(l, "peer").as_string() == Some(a.id())).map(|l| get(&l, "candidates"));
        if let Some(p) = pair.filter(|p| p.is_object()) {
            for side in ["local", "remote"] {
                let kind = get(&p, side).as_string();
                assert!(matches!(kind.as_deref(), Some("host" | "prflx")), "{side} candidate {kind:?}: not a direct loopback path");
            }
            break;
        }
        assert!(waited < 10_000, "no measured path after 10 s");
        sleep(100).await;
        waited += 100;
    }
    for p in [a, b] {
        JsFuture::from(p.leave()).await.map_err(message).unwrap();
    }
}

#[wasm_bindgen_test]
async fn bad_options_are_rejected_in_words() {
    let bad_ice = js_sys::JSON::parse(r#"[{"urls":"http://example.org"}]"#).unwrap();
    let no_cred = js_sys::JSON::parse(r#"[{"urls":"turn:127.0.0.1"}]"#).unwrap();
    let cases: [(JsValue, &str); 10] = [
        (options("ok", &[("iceTransportPolicy", "none".into())]), "options.iceTransportPolicy must be \"all\" or \"relay\""),
        (options("ok", &[("iceServers", bad_ice)]), "is not an ICE server URL"),
        (options("ok", &[("iceServers", no_cred)]), "needs a username and a credential"),
        (options("ok", &[("iceServers", 5.into())]), "options.iceServers must be a list"),
        (options("ok", &[("signalingUrl", js_sys::Array::new().into())]), "signalingUrl is missing"),
        (options("ok", &[("id", "xyz".into())]), "options.id must be 40 hex digits"),
        (JsValue::from(3), "options object"),
        (Object::new().into(), "signalingUrl is missing"),
        (options("ok", &[("replicas", 0.into())]), "options.replicas must be a whole number from 1 to 16"),
        (options("bad ring!", &[]), "ring name \"bad ring!\" is not valid"),
    ];
    for (opts, expected) in cases {
        let err = ChordPeer::join(opts).await.err().map(message).expect("join must fail");
        assert!(err.contains(expected), "{err:?} should mention {expected:?}");
    }
}

#[wasm_bindgen_test]
async fn bad_data_options_and_empty_names_are_refused_in_words() {
    let chosen = "00112233445566778899aabbccddeeff00112233";
    let peer = join(options(&fresh_ring("wbt-limits"), &[("id", chosen.into())])).await;
    assert_eq!(peer.id(), chosen, "a peer joins with the id it was given");
    let err =
        JsFuture::from(peer.put("n.bin".into(), JsValue::from(42), JsValue::UNDEFINED)).await.err().map(message).expect("put must fail");
    assert!(err.contains("needs the data as a Blob"), "{err}");
    let bad = Object::new();
    set(&bad, "onProgress", 5.into());
    let err = JsFuture::from(peer.get("x".into(), bad.into())).await.err().map(message).expect("get must fail");
    assert!(err.contains("options.onProgress must be a function"), "{err}");
    let err = JsFuture::from(peer.get(String::new(), JsValue::UNDEFINED)).await.expect_err("get must fail");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("invalid"), "errors carry a code for the program");
    let err = message(err);
    assert!(err.contains("needs a name"), "{err}");
    let err = put(&peer, "", b"x", JsValue::UNDEFINED).await.err().map(message).expect("put must fail");
    assert!(err.contains("needs a name"), "{err}");
    // A single tab stores a large file in its own IndexedDB and reads it back.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let r = put(&peer, "alone.bin", &data, JsValue::UNDEFINED).await.map_err(message).unwrap();
    assert_eq!(get(&r, "size").as_f64(), Some(data.len() as f64));
    let got = JsFuture::from(peer.get("alone.bin".into(), JsValue::UNDEFINED)).await.map_err(message).unwrap();
    assert_eq!(bytes_of(&got).await, data);
    assert!(peer.close_link("zz").is_err());
    JsFuture::from(peer.leave()).await.map_err(message).unwrap();
}

/// `(phase, done, total)` of every progress callback.
type ProgressLog = std::rc::Rc<std::cell::RefCell<Vec<(String, f64, f64)>>>;

/// Options whose `onProgress` records into a log (keep the closure alive).
fn progress_log() -> (JsValue, ProgressLog, Closure<dyn FnMut(JsValue)>) {
    let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let l = log.clone();
    let f = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
        l.borrow_mut().push((get(&p, "phase").as_string().unwrap(), get(&p, "done").as_f64().unwrap(), get(&p, "total").as_f64().unwrap()));
    });
    let o = Object::new();
    set(&o, "onProgress", f.as_ref().clone());
    (o.into(), log, f)
}

fn records_of(p: &ChordPeer) -> Vec<JsValue> {
    Array::from(&get(&p.state().unwrap(), "records")).iter().collect()
}

#[wasm_bindgen_test]
async fn a_large_file_moves_in_chunks_is_verified_and_can_be_cancelled() {
    let ring = fresh_ring("wbt-files");
    let events = std::rc::Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let mut peers = Vec::new();
    let mut keep = Vec::new();
    for i in 0..4 {
        let ev = events.clone();
        let on_event = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            if get(&e, "type").as_string().as_deref() == Some("bad_holder") {
                ev.borrow_mut().push(format!("{i} {}", get(&e, "peer").as_string().unwrap()));
            }
        });
        peers.push(join(options(&ring, &[("replicas", 2.into()), ("onEvent", on_event.as_ref().clone())])).await);
        keep.push(on_event);
    }
    let mut waited = 0;
    while !ring_is_correct(&peers) {
        assert!(waited < 15_000, "ring not correct after 15 s");
        sleep(100).await;
        waited += 100;
    }
    let size = 3 * 1024 * 1024 + 5;
    let data: Vec<u8> = (0..size as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let name = "big video.mp4";
    let (opts, log, _f) = progress_log();
    let r = put(&peers[0], name, &data, opts).await.map_err(message).unwrap();
    assert_eq!(get(&get(&r, "version"), "seq").as_f64(), Some(1.0));
    let storing: Vec<f64> = log.borrow().iter().filter(|p| p.0 == "storing").map(|p| p.1).collect();
    assert_eq!(storing.last().copied(), Some(size as f64), "storing progress {storing:?}");
    assert!(storing.windows(2).all(|w| w[0] <= w[1]));
    let primary = get(&r, "node").as_string().unwrap();
    if primary != peers[0].id() {
        let sent = log.borrow().iter().filter(|p| p.0 == "sending").map(|p| p.1).fold(0.0, f64::max);
        assert_eq!(sent, size as f64, "the writer saw the primary copy everything");
    }
    // Both holders get the bytes; the other two tabs hold nothing of it.
    let key = ChordPeer::key_of(name);
    let holds = |p: &ChordPeer| {
        records_of(p).iter().any(|r| get(r, "key").as_string() == Some(key.clone()) && get(r, "complete").as_bool() == Some(true))
    };
    let mut waited = 0;
    while peers.iter().filter(|p| holds(p)).count() < 2 {
        assert!(waited < 20_000, "replicas did not copy the file");
        sleep(100).await;
        waited += 100;
    }
    // Not the writer either: it keeps its own copy for a while and would read that.
    let reader = peers[1..].iter().find(|p| !holds(p)).expect("a tab that does not hold it");
    let mem_before = get(&reader.state().unwrap(), "wasmMemoryBytes").as_f64().unwrap();
    let (opts, log, _g) = progress_log();
    let got = JsFuture::from(reader.get(name.into(), opts)).await.map_err(message).unwrap();
    // (This page's four peers share one wasm memory; measured before the test copies the bytes in.)
    let growth = get(&reader.state().unwrap(), "wasmMemoryBytes").as_f64().unwrap() - mem_before;
    assert!(growth < size as f64, "wasm memory grew by {growth} bytes for a {size}-byte file");
    assert!(bytes_of(&got).await == data, "the file came back different");
    let received = log.borrow().iter().filter(|p| p.0 == "receiving").map(|p| p.1).fold(0.0, f64::max);
    assert_eq!(received, size as f64);

    // Bit rot at the primary: the reader is told, and gets the bytes from the other holder.
    let record = records_of(peers.iter().find(|p| p.id() == primary).unwrap())
        .into_iter()
        .find(|r| get(r, "key").as_string() == Some(key.clone()))
        .unwrap();
    let digest = chord::Id::from_hex(&get(&record, "digest").as_string().unwrap()).unwrap();
    let store = chord::web::blobstore::BlobStore::open(&chord::Id::from_hex(&primary).unwrap()).await.unwrap();
    store.put_chunk(&digest, 7, &Uint8Array::new_with_length(chord::transfer::CHUNK_BYTES)).await.unwrap();
    let got = JsFuture::from(reader.get(name.into(), JsValue::UNDEFINED)).await.map_err(message).unwrap();
    assert!(bytes_of(&got).await == data, "a corrupt copy was returned");
    assert!(events.borrow().iter().any(|e| e.ends_with(&primary)), "no bad_holder event for {primary}: {:?}", events.borrow());

    // Cancel: abort the get at its first progress report.
    let controller = web_sys::AbortController::new().unwrap();
    let o = Object::new();
    let c = controller.clone();
    let abort = Closure::<dyn FnMut(JsValue)>::new(move |_| c.abort());
    set(&o, "onProgress", abort.as_ref().clone());
    set(&o, "signal", controller.signal().into());
    let err = JsFuture::from(reader.get(name.into(), o.into())).await.err().map(message).expect("a cancelled get rejects");
    assert!(err.starts_with("Cancelled"), "{err}");
    let got = JsFuture::from(reader.get(name.into(), JsValue::UNDEFINED)).await.map_err(message).unwrap();
    assert!(bytes_of(&got).await == data, "the peer works after a cancel");
    for p in &peers {
        JsFuture::from(p.leave()).await.map_err(message).unwrap();
    }
}

/// A hostile peer in the same page: it is introduced by the real server like
/// any newcomer, opens a real data channel to the member it was given, and
/// sends it garbage, broken Chord, file and signaling frames, a frame of the
/// channel's maximum size, forged answers and corrupt records. The member
/// stays joined, counts every kind it refused in `state().rejected`, and the
/// honest ring keeps its pointers and its files.
#[wasm_bindgen_test]
async fn a_hostile_peer_cannot_break_a_member() {
    use chord::message::{Op, ReqId, Route, RouteReply, RouteResult, StoreReason, PROTOCOL_VERSION};
    use chord::signal::{ClientMsg, ServerMsg, SignalPayload, SIGNAL_VERSION};
    use chord::store::Version;
    use chord::web::input::{rtc_intake, Input, RtcEvent, RtcIntake, RtcSink, ServerEvent, SocketTag};
    use chord::web::{rtc::RtcLink, server::ServerConn};
    use chord::{Id, Message, Record};
    use futures::StreamExt;

    let ring = fresh_ring("wbt-hostile");
    let mut peers = Vec::new();
    for _ in 0..3 {
        peers.push(join(options(&ring, &[])).await);
    }
    let mut waited = 0;
    while !ring_is_correct(&peers) {
        assert!(waited < 15_000, "ring not correct after 15 s");
        sleep(100).await;
        waited += 100;
    }
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 13) as u8).collect();
    put(&peers[0], "kept.txt", &data, JsValue::UNDEFINED).await.map_err(message).unwrap();

    // The hostile peer: the server introduces it to one member.
    let (tx, mut rx) = futures::channel::mpsc::unbounded::<Input>();
    async fn next(rx: &mut futures::channel::mpsc::UnboundedReceiver<Input>) -> Input {
        let timeout = gloo_timers::future::TimeoutFuture::new(10_000);
        match futures::future::select(rx.next(), timeout).await {
            futures::future::Either::Left((Some(i), _)) => i,
            _ => panic!("the hostile peer waited 10 s for an event"),
        }
    }
    let server = ServerConn::open(SIGNAL_URL, tx.clone(), SocketTag { server: chord::peer::ServerId(0), generation: 1 }).unwrap();
    while !matches!(next(&mut rx).await, Input::Server(_, ServerEvent::Opened)) {}
    let me = Id::key_of(&format!("hostile {}", js_sys::Math::random()));
    server.send(&ClientMsg::Hello { version: SIGNAL_VERSION, ring: ring.clone(), id: me, member: false });
    let (intro, member) = loop {
        if let Input::Server(_, ServerEvent::Message(Ok(ServerMsg::Welcome { first: false, intro: Some(i), introducer: Some(m), .. }))) =
            next(&mut rx).await
        {
            break (i, m);
        }
    };
    // Not trickled: the offer waits for every candidate (the member trickles its own).
    // What the link reports waits in the intake; `Input::Rtc` says there is some.
    fn drain_seeing(intake: &RtcIntake, want: impl Fn(&RtcEvent) -> bool) -> bool {
        let mut q = intake.borrow_mut();
        let mut seen = false;
        while let Some((_, ev)) = q.pop() {
            seen |= want(&ev);
        }
        q.drained();
        seen
    }
    let intake = rtc_intake();
    let sink = RtcSink { link: chord::link::LinkId(1), intake: intake.clone(), tx: tx.clone() };
    let link = RtcLink::new(sink, None, &chord::ice::IceConfig::default()).unwrap();
    while !(matches!(next(&mut rx).await, Input::Rtc) && drain_seeing(&intake, |e| matches!(e, RtcEvent::Candidate(None)))) {}
    let sdp = chord::link::sdp::keep_loopback_candidates(&link.local_sdp().unwrap());
    server.send(&ClientMsg::Signal { intro, payload: SignalPayload::Offer { sdp } });
    let answer = loop {
        if let Input::Server(_, ServerEvent::Message(Ok(ServerMsg::Signal { payload: SignalPayload::Answer { sdp }, .. }))) =
            next(&mut rx).await
        {
            break sdp;
        }
    };
    link.set_answer(answer);
    // A notice taken by the loop above left the intake waiting: drain it first.
    let opened = |e: &RtcEvent| matches!(e, RtcEvent::Opened);
    let mut open = drain_seeing(&intake, opened);
    while !open {
        match next(&mut rx).await {
            Input::Rtc => open = drain_seeing(&intake, opened),
            Input::Server(
                _,
                ServerEvent::Message(Ok(ServerMsg::Signal {
                    payload: SignalPayload::Ice { candidate, sdp_mid, sdp_m_line_index }, ..
                })),
            ) => link.add_candidate(chord::ice::Candidate { candidate, sdp_mid, sdp_m_line_index }),
            _ => {}
        }
    }
    let target = peers.iter().find(|p| p.id() == member.to_hex()).expect("introduced to a ring member").clone();
    const KINDS: [&str; 8] =
        ["version", "malformed", "oversized", "unsolicited", "corrupt", "badPath", "transferMalformed", "signalsDropped"];
    let rejected = |p: &ChordPeer, k: &str| get(&get(&p.state().unwrap(), "rejected"), k).as_f64().unwrap();
    let before: Vec<f64> = KINDS.iter().map(|k| rejected(&target, k)).collect();

    let chord = |m: &Message| m.encode().unwrap();
    let mut bad = Record::new(Id::key_of("planted"), b"planted".to_vec(), Version { seq: 1, writer: me });
    bad.value[0] ^= 0x20;
    let frames: Vec<Vec<u8>> = vec![
        b"\xde\xad\xbe\xef garbage".to_vec(),
        vec![PROTOCOL_VERSION, 0xff, 0xff, 0xff],
        vec![PROTOCOL_VERSION; 256 * 1024],
        vec![0xF1, 0xff, 0x00, 0x13],
        vec![0xF0, 0x01, 0x02],
        chord(&Message::Neighbors { req: ReqId::new(7), predecessor: Some(me), successors: vec![me] }),
        chord(&Message::Fetched { req: ReqId::new(9), record: None }),
        chord(&Message::Store { req: ReqId::new(1), reason: StoreReason::Replica, records: vec![bad] }),
        chord(&Message::Route(Route {
            origin: me,
            req: ReqId::new(1),
            target: Id::ZERO,
            hops: 0,
            path: vec![Id::key_of("someone else")],
            last_hop: false,
            op: Op::Get,
        })),
    ];
    for f in &frames {
        link.send(f).unwrap();
    }
    // Forged answers to requests the member may have pending (numbers it never used, too).
    for req in 1..=50 {
        let forged = RouteReply { origin: member, req: ReqId::new(req), path: vec![], hops: 1, result: RouteResult::Found { node: me } };
        link.send(&chord(&Message::RouteReply(forged))).unwrap();
    }
    let mut waited = 0;
    loop {
        let now: Vec<f64> = KINDS.iter().map(|k| rejected(&target, k)).collect();
        let grew: Vec<f64> = now.iter().zip(&before).map(|(a, b)| a - b).collect();
        // The garbage (no known version byte), the broken frame and the big one;
        // 2 + 50 answers to nothing asked; the corrupt record; the bad path;
        // the file frame; the envelope.
        let undecodable = grew[0] + grew[1] + grew[2];
        if undecodable >= 3.0 && grew[3] >= 52.0 && grew[4] >= 1.0 && grew[5] >= 1.0 && grew[6] >= 1.0 && grew[7] >= 1.0 {
            break;
        }
        assert!(waited < 5_000, "rejections not counted within 5 s: {grew:?} ({KINDS:?})");
        sleep(100).await;
        waited += 100;
    }
    drop(link);
    drop(server);

    // The member and the ring are unharmed.
    assert_eq!(get(&target.state().unwrap(), "status").as_string().as_deref(), Some("joined"));
    assert!(ring_is_correct(&peers), "the honest ring lost its pointers");
    for p in &peers {
        let got = JsFuture::from(p.get("kept.txt".into(), JsValue::UNDEFINED)).await.map_err(message).unwrap();
        assert_eq!(bytes_of(&got).await, data);
        let keys: Vec<String> =
            Array::from(&get(&p.state().unwrap(), "records")).iter().filter_map(|r| get(&r, "key").as_string()).collect();
        assert!(!keys.contains(&Id::key_of("planted").to_hex()), "a corrupt record was stored");
    }
    put(&peers[1], "after.txt", b"still works", JsValue::UNDEFINED).await.map_err(message).unwrap();
    let got = JsFuture::from(peers[2].get("after.txt".into(), JsValue::UNDEFINED)).await.map_err(message).unwrap();
    assert_eq!(bytes_of(&got).await, b"still works");
    for p in &peers {
        JsFuture::from(p.leave()).await.map_err(message).unwrap();
    }
}
