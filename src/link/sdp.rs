//! Session-description editing the link layer needs.

/// Removes every ICE candidate whose address is not loopback (127.0.0.0/8 or
/// `::1`) from an SDP, keeping every other line as it is.
///
/// Used with the `loopbackOnly` option: tests and single-machine demos must not
/// offer the machine's other addresses to anyone. Trickled candidates are
/// filtered one by one ([`crate::ice::Candidate::is_loopback`]). A candidate line is `a=candidate:<foundation> <component> <transport>
/// <priority> <address> <port> typ …`.
pub fn keep_loopback_candidates(sdp: &str) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let keep = match line.trim_end().strip_prefix("a=candidate:") {
            Some(rest) => rest.split_ascii_whitespace().nth(4).is_some_and(is_loopback),
            None => true,
        };
        if keep {
            out.push_str(line);
        }
    }
    out
}

fn is_loopback(addr: &str) -> bool {
    crate::ice::is_loopback_address(addr)
}

/// How many `a=candidate:` lines an SDP holds.
pub fn count_candidates(sdp: &str) -> usize {
    sdp.lines().filter(|l| l.trim_start().starts_with("a=candidate:")).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_loopback_candidates() {
        let sdp = "v=0\r\n\
            a=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host generation 0\r\n\
            a=candidate:2 1 udp 2113937151 10.0.0.5 50001 typ host generation 0\r\n\
            a=candidate:3 1 udp 2113937151 ::1 50002 typ host generation 0\r\n\
            a=candidate:4 1 udp 2113937151 abcd.local 50003 typ host\r\n\
            a=candidate:5 1 tcp\r\n\
            a=end-of-candidates\r\n";
        let kept = keep_loopback_candidates(sdp);
        assert_eq!(
            kept,
            "v=0\r\n\
            a=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host generation 0\r\n\
            a=candidate:3 1 udp 2113937151 ::1 50002 typ host generation 0\r\n\
            a=end-of-candidates\r\n"
        );
    }

    #[test]
    fn counts_candidate_lines() {
        assert_eq!(count_candidates("v=0\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\na=candidate:2 x\r\na=end-of-candidates\r\n"), 2);
        assert_eq!(count_candidates("v=0\r\n"), 0);
    }

    #[test]
    fn leaves_sdp_without_candidates_alone() {
        let sdp = "v=0\no=- 1 2 IN IP4 127.0.0.1\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel";
        assert_eq!(keep_loopback_candidates(sdp), sdp);
    }
}
