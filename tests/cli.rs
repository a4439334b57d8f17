//! The `chord-sim` command line: each scenario runs, `--json` prints exactly
//! one JSON object with the documented fields, and bad arguments are refused.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chord-sim")).args(args).output().expect("chord-sim runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn one_json_object(args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 0, "{args:?} failed: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "--json must print exactly one line, got {stdout:?}");
    serde_json::from_str(lines[0]).expect("valid JSON")
}

fn json(args: &[&str]) -> serde_json::Value {
    let v = one_json_object(args);
    for field in [
        "scenario",
        "nodes",
        "lookups",
        "mean_hops",
        "p1_hops",
        "p50_hops",
        "p99_hops",
        "max_hops",
        "failed_lookups",
        "keys",
        "keys_lost",
        "invariant_violations",
        "assumption_breaches",
        "wall_s",
    ] {
        assert!(v.get(field).is_some(), "missing field {field} in {v}");
    }
    v
}

#[test]
fn lookup_converged_reports_paper_path_lengths() {
    let v = json(&["lookup", "--nodes", "4096", "--lookups", "20000", "--seed", "3", "--json", "--quiet"]);
    assert_eq!(v["scenario"], "lookup");
    assert_eq!(v["lookups"], 20000);
    assert_eq!(v["failed_lookups"], 0);
    let mean = v["mean_hops"].as_f64().unwrap();
    // ½·log₂N = 6 at N = 2^12; the successor list shortens the last steps a little.
    assert!((4.5..=6.5).contains(&mean), "mean path length {mean}");
    assert!(v["p99_hops"].as_u64().unwrap() <= 12);
}

#[test]
fn lookup_joined_converges() {
    let v = json(&["lookup", "--nodes", "300", "--init", "joined", "--lookups", "2000", "--json", "--quiet"]);
    assert_eq!(v["params"]["converged"], 1.0);
    assert_eq!(v["failed_lookups"], 0);
    assert_eq!(v["invariant_violations"], 0);
}

#[test]
fn fail_without_replication_loses_about_the_failed_fraction() {
    let v = json(&["fail", "--nodes", "1000", "--keys", "2000", "--fail-fraction", "0.5", "--replicas", "1", "--json", "--quiet"]);
    let f = v["failed_lookups"].as_f64().unwrap() / v["lookups"].as_f64().unwrap();
    assert!((0.44..=0.56).contains(&f), "failed fraction {f}");
    assert_eq!(v["wrong_successor"], 0, "routing must not fail, only lost keys");
    assert_eq!(v["keys_lost"], v["keys_lost_allowed"]);
}

#[test]
fn churn_runs_without_violations() {
    let v = json(&["churn", "--nodes", "100", "--rate", "0.2", "--duration-s", "300", "--stabilize-ms", "5000", "--json", "--quiet"]);
    assert_eq!(v["invariant_violations"], 0);
    assert!(v["lookups"].as_u64().unwrap() > 200);
    assert!(v["keys_lost"].as_u64().unwrap() <= v["keys_lost_allowed"].as_u64().unwrap());
}

#[test]
fn paper_quick_writes_plots_and_table() {
    let dir = std::env::temp_dir().join(format!("chord-paper-{}", std::process::id()));
    let v = one_json_object(&["paper", "--quick", "--max-log-n", "8", "--out", dir.to_str().unwrap(), "--json", "--quiet"]);
    assert_eq!(v["invariant_violations"], 0);
    for f in ["path_length.svg", "path_pdf.svg", "fail.svg", "churn.svg", "results.md", "results.json"] {
        let p = dir.join(f);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 200, "{} missing or empty", p.display());
    }
    let svg = std::fs::read_to_string(dir.join("path_length.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "not an SVG");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_arguments_are_refused_with_a_message() {
    let (code, _, stderr) = run(&["fail", "--fail-fraction", "1.5"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--fail-fraction"), "{stderr}");
    let (code, _, stderr) = run(&["lookup", "--nodes", "many"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid value"), "{stderr}");
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for s in ["lookup", "fail", "churn", "paper"] {
        assert!(stdout.contains(s), "--help lacks {s}");
    }
}

/// The seed decides everything: two runs print the same report but for wall time and memory.
#[test]
fn a_seed_reproduces_the_whole_report() {
    let args =
        ["churn", "--nodes", "60", "--rate", "0.3", "--duration-s", "200", "--stabilize-ms", "5000", "--seed", "9", "--json", "--quiet"];
    let strip = |mut v: serde_json::Value| {
        let o = v.as_object_mut().unwrap();
        o.remove("wall_s");
        o.remove("peak_rss_mib");
        v
    };
    assert_eq!(strip(json(&args)), strip(json(&args)));
    let fail = ["fail", "--nodes", "300", "--keys", "500", "--fail-fraction", "0.3", "--replicas", "2", "--seed", "4", "--json", "--quiet"];
    assert_eq!(strip(json(&fail)), strip(json(&fail)));
}
