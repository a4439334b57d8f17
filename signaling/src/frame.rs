//! Text frames to messages and back: the server's JSON codec.

use chord::signal::{check_frame_len, ClientMsg, IntroId, ServerMsg, SignalError, MAX_FRAME_BYTES};
use chord::Id;
use std::io;

/// Decodes and validates one client text frame. Never panics: size first,
/// then JSON, then the protocol limits, then whether the relayed form of a
/// signal still fits in a frame (the relay adds the sender's id, so a signal
/// at the very edge of the limit must be refused here rather than produce a
/// frame the receiver would reject).
pub fn decode(text: &str) -> Result<ClientMsg, SignalError> {
    check_frame_len(text.len())?;
    let msg: ClientMsg = serde_json::from_str(text).map_err(|e| SignalError::Malformed(e.to_string()))?;
    msg.validate()?;
    match msg {
        ClientMsg::Signal { intro, payload } => {
            let relayed = ServerMsg::Signal { intro: IntroId::MAX, from: Id::MAX, payload };
            check_frame_len(encoded_len(&relayed))?;
            match relayed {
                ServerMsg::Signal { payload, .. } => Ok(ClientMsg::Signal { intro, payload }),
                // Built as a signal just above; an error rather than a panic all the same.
                _ => Err(SignalError::Malformed("internal: relayed form".into())),
            }
        }
        other => Ok(other),
    }
}

/// Encodes a server message. `None` only if it would exceed [`MAX_FRAME_BYTES`],
/// which [`decode`] rules out for relayed signals and the server's own
/// messages never approach.
pub fn encode(msg: &ServerMsg) -> Option<String> {
    // Serializing these plain types into a String cannot fail.
    let text = serde_json::to_string(msg).ok()?;
    (text.len() <= MAX_FRAME_BYTES).then_some(text)
}

/// Length of the JSON encoding, without building it.
fn encoded_len(msg: &ServerMsg) -> usize {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, msg) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chord::signal::{SignalPayload, MAX_SDP_BYTES};

    #[test]
    fn decodes_valid_and_refuses_invalid_frames() {
        let hello = format!(r#"{{"type":"hello","version":1,"id":"{}"}}"#, Id::from_u64(1).to_hex());
        assert!(matches!(decode(&hello), Ok(ClientMsg::Hello { .. })));
        assert!(matches!(decode("{"), Err(SignalError::Malformed(_))));
        let big = " ".repeat(MAX_FRAME_BYTES + 1);
        assert_eq!(decode(&big), Err(SignalError::FrameTooLarge(MAX_FRAME_BYTES + 1)));
        let v2 = hello.replace(r#""version":1"#, r#""version":2"#);
        assert_eq!(decode(&v2), Err(SignalError::Version(2)));
    }

    #[test]
    fn a_signal_whose_relayed_form_would_not_fit_is_refused() {
        // Escaped control characters make the SDP six times longer in JSON:
        // a client frame just under the limit, valid SDP length, whose relayed
        // form (with the sender's id) is just over it.
        let sdp_len = (MAX_FRAME_BYTES - 60) / 6;
        assert!(sdp_len <= MAX_SDP_BYTES);
        let text =
            serde_json::to_string(&ClientMsg::Signal { intro: IntroId(1), payload: SignalPayload::Offer { sdp: "\u{1}".repeat(sdp_len) } })
                .unwrap();
        assert!(text.len() <= MAX_FRAME_BYTES, "the client frame itself fits");
        assert!(matches!(decode(&text), Err(SignalError::FrameTooLarge(n)) if n > MAX_FRAME_BYTES));
    }

    #[test]
    fn encodes_server_messages() {
        let text = encode(&ServerMsg::Error { reason: "x".into(), code: None }).unwrap();
        assert_eq!(text, r#"{"type":"error","reason":"x"}"#);
    }
}
