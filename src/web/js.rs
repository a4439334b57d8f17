//! Small JavaScript helpers the browser glue shares: the peer's clock, the
//! words of a JavaScript error, and serialization to plain JS objects.

use crate::time::Millis;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

/// Milliseconds since the page started (`performance.now()`), the peer's clock.
pub fn now() -> Millis {
    let ms = web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or_else(js_sys::Date::now);
    Millis(ms.max(0.0) as u64)
}

/// The message of a JavaScript error value.
pub fn js_message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| e.as_string()).unwrap_or_else(|| format!("{e:?}"))
}

/// Serializes for JavaScript: plain objects, `null` for `None`.
pub fn to_js<T: Serialize>(v: &T) -> Result<JsValue, String> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| e.to_string())
}
