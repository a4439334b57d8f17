//! `GET /metrics`: the [`Snapshot`] in the Prometheus text format (0.0.4).
//!
//! Written by hand: a few dozen series from one snapshot taken per scrape,
//! so a metrics crate (registries, atomics kept up to date) would buy
//! nothing. Counters are the snapshot's counts since the process started;
//! labelled families (`reason`, `state`, `role`, …) use the same words as
//! the JSON of `GET /state`, so a reader can go from one to the other.

use crate::command::Snapshot;
use chord::link::manager::LinkState;
use chord::peer::ServerState;
use std::fmt::Write;

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The snapshot as Prometheus text.
pub fn render(snap: &Snapshot) -> String {
    let s = &snap.state;
    let d = &snap.driver;
    let mut out = Out(String::new());

    out.family("chord_info", "gauge", "This node's id and ring (always 1).");
    out.sample("chord_info", &[("id", &s.id), ("ring", &s.ring)], 1);
    out.family("chord_joined", "gauge", "1 when the node is a member of the ring (status joined), else 0.");
    out.sample("chord_joined", &[], u64::from(s.status == "joined"));
    out.family("chord_successors", "gauge", "Entries in the successor list.");
    out.sample("chord_successors", &[], s.successors.len() as u64);
    out.family("chord_predecessor_known", "gauge", "1 when the node knows its predecessor.");
    out.sample("chord_predecessor_known", &[], u64::from(s.predecessor.is_some()));

    out.family("chord_links", "gauge", "Links to other members, by state.");
    for (state, name) in [(LinkState::Connecting, "connecting"), (LinkState::Open, "open"), (LinkState::Restarting, "restarting")] {
        let n = s.links.iter().filter(|l| l.state == state).count();
        out.sample("chord_links", &[("state", name)], n as u64);
    }
    out.family("chord_signaling_servers", "gauge", "Signaling servers, by connection state.");
    for (state, name) in [(ServerState::Connected, "connected"), (ServerState::Connecting, "connecting"), (ServerState::Closed, "closed")] {
        let n = s.servers.iter().filter(|v| v.state == state).count();
        out.sample("chord_signaling_servers", &[("state", name)], n as u64);
    }

    out.family("chord_keys", "gauge", "Records (keys) this node holds.");
    out.sample("chord_keys", &[], s.keys as u64);
    out.family("chord_records", "gauge", "Records held, by role: primary, replica, or other (in transit after churn).");
    for role in ["primary", "replica", "other"] {
        let n = s.records.iter().filter(|r| r.role == role).count();
        out.sample("chord_records", &[("role", role)], n as u64);
    }
    out.family("chord_records_incomplete", "gauge", "Blob records whose bytes this node does not hold (yet).");
    out.sample("chord_records_incomplete", &[], s.records.iter().filter(|r| !r.complete).count() as u64);
    out.family("chord_record_bytes", "gauge", "Content bytes of the records held (inline values and blobs).");
    out.sample("chord_record_bytes", &[], s.records.iter().map(|r| r.size).sum());
    out.family("chord_store_bytes", "gauge", "Bytes of blob chunks in the durable store (held blobs, gets and uploads in progress).");
    out.sample("chord_store_bytes", &[], d.store_bytes);

    let counters: [(&str, &str, u64); 13] = [
        ("chord_puts_total", "Puts asked for through the API.", d.puts),
        ("chord_put_failures_total", "Puts through the API that failed.", d.puts_failed),
        ("chord_gets_total", "Gets asked for through the API.", d.gets),
        ("chord_get_failures_total", "Gets through the API that failed (not found is no failure).", d.gets_failed),
        ("chord_bytes_sent_total", "Bytes sent on data channels.", d.bytes_sent),
        ("chord_bytes_received_total", "Bytes received on data channels.", d.bytes_received),
        ("chord_stray_datagrams_total", "UDP datagrams no link accepted.", d.stray_datagrams),
        ("chord_connections_created_total", "Peer connections created.", s.connections_created),
        ("chord_signals_forwarded_total", "Signaling envelopes relayed for others.", s.signals_forwarded),
        ("chord_peers_declared_dead_total", "Peers found silent and dropped from the tables.", s.peers_declared_dead),
        ("chord_neighbour_links_lost_total", "Links to ring neighbours that closed.", s.neighbour_links_lost),
        ("chord_late_timeouts_total", "Reply deadlines that fired while the node was stalled.", s.late_timeouts),
        ("chord_frames_too_large_total", "Frames not sent: larger than the other end accepts.", s.frames_too_large),
    ];
    for (name, help, v) in counters {
        out.family(name, "counter", help);
        out.sample(name, &[], v);
    }
    out.family(
        "chord_dead_by_transport_total",
        "counter",
        "Of the peers declared dead: neighbours whose link closed and that no member could reach.",
    );
    out.sample("chord_dead_by_transport_total", &[], s.dead_by_transport);

    out.family("chord_rejected_total", "counter", "Input received and refused, by reason (state().rejected).");
    // `Rejected` shows its reasons only through its JSON (an object); its
    // serialization cannot fail (string keys, integer values).
    if let Ok(serde_json::Value::Object(reasons)) = serde_json::to_value(&s.rejected) {
        for (reason, n) in reasons {
            out.sample("chord_rejected_total", &[("reason", &reason)], n.as_u64().unwrap_or(0));
        }
    }

    let f = &s.link_failures;
    out.family("chord_link_failures_total", "counter", "Link attempts that failed, by reason (state().linkFailures).");
    for (reason, n) in [
        ("noCandidates", f.no_candidates),
        ("noPath", f.no_path),
        ("timeout", f.timeout),
        ("refused", f.refused),
        ("unreachable", f.unreachable),
        ("messageLimit", f.message_limit),
        ("budget", f.budget),
    ] {
        out.sample("chord_link_failures_total", &[("reason", reason)], n);
    }
    let r = &s.ice_restarts;
    out.family("chord_ice_restarts_total", "counter", "ICE restarts of links whose path failed, by outcome.");
    for (outcome, n) in [("started", r.started), ("succeeded", r.succeeded), ("failed", r.failed)] {
        out.sample("chord_ice_restarts_total", &[("outcome", outcome)], n);
    }
    out.family("chord_ice_refreshes_total", "counter", "Fresh ICE credentials received from the signaling server.");
    out.sample("chord_ice_refreshes_total", &[], s.ice.refreshes);
    out.0
}

/// The text being written. `write!` to a `String` cannot fail.
struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// A label value as the format wants it: `\`, `"` and newlines escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::DriverStats;
    use chord::id::Id;
    use chord::link::manager::Via;
    use chord::peer::{HeldRecord, LinkView, Peer, PeerConfig, VersionView};
    use std::collections::{BTreeMap, BTreeSet};

    fn snapshot() -> Snapshot {
        let mut state = Peer::new(Id::from_u64(7), PeerConfig::default(), 1).state();
        state.status = "joined";
        state.ring = "r\"1".into();
        let link = |state| LinkView {
            peer: Id::from_u64(9).to_hex(),
            state,
            via: Via::Ring,
            wanted: true,
            candidates: None,
            rtt_ms: None,
            max_message_size: None,
        };
        state.links = vec![link(LinkState::Open), link(LinkState::Open), link(LinkState::Connecting)];
        let rec = |role, size, complete| HeldRecord {
            key: Id::from_u64(1).to_hex(),
            name: "a".into(),
            size,
            digest: Id::from_u64(2).to_hex(),
            version: VersionView { seq: 1, writer: Id::from_u64(3).to_hex() },
            role,
            inline: false,
            complete,
        };
        state.records = vec![rec("primary", 10, true), rec("replica", 5, false), rec("replica", 1, true)];
        state.keys = 3;
        state.peers_declared_dead = 4;
        let driver = DriverStats { puts: 5, puts_failed: 1, bytes_sent: 1234, store_bytes: 99, ..DriverStats::default() };
        Snapshot { state, driver }
    }

    /// Parses the text as a scraper would: every sample `name{labels} value`
    /// after its family's HELP and TYPE, no series twice.
    fn parse(text: &str) -> BTreeMap<String, u64> {
        let mut typed = BTreeSet::new();
        let mut helped = BTreeSet::new();
        let mut series = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped.insert(rest.split(' ').next().unwrap().to_string());
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge"].contains(&kind), "{line}");
                assert!(kind != "counter" || name.ends_with("_total"), "{line}");
                assert!(typed.insert(name.to_string()), "TYPE twice: {line}");
                continue;
            }
            let (series_name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
            let value: u64 = value.parse().unwrap_or_else(|_| panic!("bad value: {line}"));
            let name = series_name.split('{').next().unwrap();
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
            if let Some(labels) = series_name.strip_prefix(name) {
                if !labels.is_empty() {
                    assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                }
            }
            assert!(typed.contains(name) && helped.contains(name), "sample before its HELP/TYPE: {line}");
            assert!(series.insert(series_name.to_string(), value).is_none(), "series twice: {line}");
        }
        series
    }

    #[test]
    fn renders_the_snapshot_as_parseable_series() {
        let text = render(&snapshot());
        let m = parse(&text);
        assert_eq!(m["chord_joined"], 1);
        assert_eq!(m["chord_links{state=\"open\"}"], 2);
        assert_eq!(m["chord_links{state=\"connecting\"}"], 1);
        assert_eq!(m["chord_links{state=\"restarting\"}"], 0);
        assert_eq!(m["chord_keys"], 3);
        assert_eq!(m["chord_records{role=\"replica\"}"], 2);
        assert_eq!(m["chord_records_incomplete"], 1);
        assert_eq!(m["chord_record_bytes"], 16);
        assert_eq!(m["chord_store_bytes"], 99);
        assert_eq!(m["chord_puts_total"], 5);
        assert_eq!(m["chord_put_failures_total"], 1);
        assert_eq!(m["chord_bytes_sent_total"], 1234);
        assert_eq!(m["chord_peers_declared_dead_total"], 4);
        assert_eq!(m["chord_link_failures_total{reason=\"noPath\"}"], 0);
        let id = Id::from_u64(7).to_hex();
        assert_eq!(m[&format!("chord_info{{id=\"{id}\",ring=\"r\\\"1\"}}")], 1, "the quote in the ring name is escaped");
    }

    #[test]
    fn rejected_input_is_one_family_labelled_by_every_reason_of_the_state() {
        let snap = snapshot();
        let m = parse(&render(&snap));
        let reasons = serde_json::to_value(&snap.state.rejected).unwrap();
        let reasons = reasons.as_object().unwrap();
        assert!(reasons.contains_key("notJoined") && reasons.contains_key("queueFull"));
        for (reason, n) in reasons {
            assert_eq!(m[&format!("chord_rejected_total{{reason=\"{reason}\"}}")], n.as_u64().unwrap(), "{reason}");
        }
        assert_eq!(m.keys().filter(|k| k.starts_with("chord_rejected_total")).count(), reasons.len());
    }

    #[test]
    fn not_joined_reads_zero() {
        let mut snap = snapshot();
        snap.state.status = "joining";
        assert_eq!(parse(&render(&snap))["chord_joined"], 0);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }
}
