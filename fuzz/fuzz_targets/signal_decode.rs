//! The signaling protocol's JSON messages (`chord::signal`), as the server
//! decodes a client's frame and a tab decodes the server's: length check,
//! `serde_json`, then `validate`.
//!
//! Asserts: nothing panics; a message that decodes and validates serializes
//! to JSON that decodes to the same message, still valid.
#![no_main]

use chord::signal::{check_frame_len, ClientMsg, ServerMsg};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if check_frame_len(data.len()).is_err() {
        return;
    }
    if let Ok(m) = serde_json::from_slice::<ClientMsg>(data) {
        if m.validate().is_ok() {
            let text = serde_json::to_string(&m).expect("a client message serializes");
            let back: ClientMsg = serde_json::from_str(&text).expect("its own JSON decodes");
            assert_eq!(back, m);
            assert!(back.validate().is_ok());
            let _ = m.kind();
        }
    }
    if let Ok(m) = serde_json::from_slice::<ServerMsg>(data) {
        if m.validate().is_ok() {
            let text = serde_json::to_string(&m).expect("a server message serializes");
            let back: ServerMsg = serde_json::from_str(&text).expect("its own JSON decodes");
            assert_eq!(back, m);
            assert!(back.validate().is_ok());
        }
    }
});
