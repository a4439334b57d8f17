//! Reading `JoinOptions` (see `api_types.rs`) from JavaScript.

use crate::ice::{validate_ice_servers, IcePolicy, IceServer};
use crate::link::LinkConfig;
use crate::peer::PeerConfig;
use crate::signal::{is_valid_ring_name, DEFAULT_RING};
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// Everything `ChordPeer.join` was given.
pub struct JoinOptions {
    /// WebSocket URLs of the signaling servers (the peer keeps a connection to each).
    pub signaling_urls: Vec<String>,
    /// Peer configuration (ring, replicas, intervals, loopback-only).
    pub config: PeerConfig,
    /// How long to wait for the join, in ms.
    pub join_timeout_ms: u64,
    /// The event callback.
    pub on_event: Option<Function>,
    /// The node id to use, if the caller chose one (e.g. kept across reloads).
    pub id: Option<crate::Id>,
}

impl JoinOptions {
    /// Reads and checks the options object; the error says what is wrong in words.
    pub fn from_js(v: &JsValue) -> Result<JoinOptions, String> {
        if !v.is_object() {
            return Err("ChordPeer.join needs an options object, e.g. { signalingUrl: \"ws://127.0.0.1:8080/ws\" }".into());
        }
        let signaling_urls = signaling_urls(v)?;
        let ring = string(v, "ring")?.unwrap_or_else(|| DEFAULT_RING.to_string());
        if !is_valid_ring_name(&ring) {
            return Err(format!("ring name {ring:?} is not valid: use 1 to 64 letters, digits, '_' or '-'"));
        }
        let mut node = crate::peer::browser_node_config();
        if let Some(r) = number(v, "replicas", 1, 16)? {
            node.replicas = r as usize;
        }
        node.successors = node.successors.max(node.replicas);
        if let Some(ms) = number(v, "stabilizeMs", 50, 600_000)? {
            node.stabilize_ms = ms;
        }
        if let Some(ms) = number(v, "fixFingersMs", 50, 600_000)? {
            node.fix_fingers_ms = ms;
        }
        if let Some(ms) = number(v, "checkPredecessorMs", 50, 600_000)? {
            node.check_predecessor_ms = ms;
        }
        if let Some(ms) = number(v, "probeMs", 0, 600_000)? {
            node.probe_ms = ms;
        }
        let links = LinkConfig { loopback_only: boolean(v, "loopbackOnly")?.unwrap_or(false), ..LinkConfig::default() };
        let ice_servers = match field(v, "iceServers")? {
            None => None,
            Some(x) => {
                let servers: Vec<IceServer> = serde_wasm_bindgen::from_value(normalize_ice_servers(&x)?)
                    .map_err(|e| format!("options.iceServers must be a list of {{ urls, username?, credential? }}: {e}"))?;
                validate_ice_servers(&servers).map_err(|e| format!("options.iceServers: {e}"))?;
                Some(servers)
            }
        };
        let ice_policy = match string(v, "iceTransportPolicy")?.as_deref() {
            None | Some("all") => IcePolicy::All,
            Some("relay") => IcePolicy::Relay,
            Some(other) => return Err(format!("options.iceTransportPolicy must be \"all\" or \"relay\", got {other:?}")),
        };
        let join_timeout_ms = number(v, "joinTimeoutMs", 1_000, 600_000)?.unwrap_or(20_000);
        let on_event = match field(v, "onEvent")? {
            None => None,
            Some(f) => Some(f.dyn_into::<Function>().map_err(|_| "options.onEvent must be a function".to_string())?),
        };
        let id = match string(v, "id")? {
            None => None,
            Some(hex) => Some(crate::Id::from_hex(&hex).map_err(|_| format!("options.id must be 40 hex digits, got {hex:?}"))?),
        };
        Ok(JoinOptions {
            signaling_urls: signaling_urls.clone(),
            config: PeerConfig { node, links, ring, ice_servers, ice_policy, servers: signaling_urls },
            join_timeout_ms,
            on_event,
            id,
        })
    }
}

/// `signalingUrl`: one URL or a list, each `ws://` or `wss://`.
fn signaling_urls(v: &JsValue) -> Result<Vec<String>, String> {
    const MISSING: &str = "options.signalingUrl is missing (the signaling server's WebSocket URL, or a list of them)";
    let x = field(v, "signalingUrl")?.ok_or(MISSING)?;
    let urls: Vec<String> = if let Some(one) = x.as_string() {
        vec![one]
    } else if js_sys::Array::is_array(&x) {
        js_sys::Array::from(&x)
            .iter()
            .map(|u| u.as_string().ok_or_else(|| "options.signalingUrl must be a string or a list of strings".to_string()))
            .collect::<Result<_, _>>()?
    } else {
        return Err("options.signalingUrl must be a string or a list of strings".into());
    };
    if urls.is_empty() {
        return Err(MISSING.into());
    }
    if urls.len() > 16 {
        return Err("options.signalingUrl lists more than 16 servers".into());
    }
    for url in &urls {
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(format!("options.signalingUrl must start with ws:// or wss://, got {url:?}"));
        }
    }
    Ok(urls)
}

/// `RTCIceServer.urls` may be one string or a list; makes it a list.
fn normalize_ice_servers(x: &JsValue) -> Result<JsValue, String> {
    if !js_sys::Array::is_array(x) {
        return Err("options.iceServers must be a list of { urls, username?, credential? }".into());
    }
    let out = js_sys::Array::new();
    for server in js_sys::Array::from(x).iter() {
        if !server.is_object() {
            return Err("options.iceServers must be a list of { urls, username?, credential? }".into());
        }
        let copy = js_sys::Object::assign(&js_sys::Object::new(), server.unchecked_ref());
        let urls = Reflect::get(&copy, &"urls".into()).unwrap_or(JsValue::UNDEFINED);
        if urls.is_string() {
            let _ = Reflect::set(&copy, &"urls".into(), &js_sys::Array::of1(&urls));
        }
        out.push(&copy);
    }
    Ok(out.into())
}

fn field(v: &JsValue, name: &str) -> Result<Option<JsValue>, String> {
    let x = Reflect::get(v, &JsValue::from_str(name)).map_err(|_| format!("options.{name} could not be read"))?;
    Ok(if x.is_undefined() || x.is_null() { None } else { Some(x) })
}

fn string(v: &JsValue, name: &str) -> Result<Option<String>, String> {
    field(v, name)?.map(|x| x.as_string().ok_or_else(|| format!("options.{name} must be a string"))).transpose()
}

fn boolean(v: &JsValue, name: &str) -> Result<Option<bool>, String> {
    field(v, name)?.map(|x| x.as_bool().ok_or_else(|| format!("options.{name} must be true or false"))).transpose()
}

fn number(v: &JsValue, name: &str, min: u64, max: u64) -> Result<Option<u64>, String> {
    let Some(x) = field(v, name)? else { return Ok(None) };
    match x.as_f64() {
        Some(n) if n.fract() == 0.0 && n >= min as f64 && n <= max as f64 => Ok(Some(n as u64)),
        _ => Err(format!("options.{name} must be a whole number from {min} to {max}")),
    }
}
