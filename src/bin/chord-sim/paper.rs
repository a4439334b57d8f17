//! `chord-sim paper`: the paper's three experiments, as SVG plots and a markdown table.

use crate::progress::Bar;
use chord::sim::report::Report;
use chord::sim::scenario::{run_churn, run_fail, run_lookup, ChurnParams, FailParams, Init, LookupParams};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

type Error = Box<dyn std::error::Error>;

struct Sizes {
    log_ns: Vec<u32>,
    fail_nodes: usize,
    fail_keys: u64,
    fractions: Vec<f64>,
    churn_rates: Vec<f64>,
    churn_duration_s: u64,
}

fn sizes(max_log_n: u32, quick: bool) -> Sizes {
    if quick {
        Sizes {
            log_ns: (3..=max_log_n.min(10)).collect(),
            fail_nodes: 500,
            fail_keys: 2_000,
            fractions: vec![0.1, 0.3, 0.5],
            churn_rates: vec![0.1, 0.4],
            churn_duration_s: 300,
        }
    } else {
        Sizes {
            log_ns: (3..=max_log_n).collect(),
            fail_nodes: 10_000,
            fail_keys: 100_000,
            fractions: vec![0.1, 0.2, 0.3, 0.4, 0.5],
            churn_rates: (1..=8).map(|i| i as f64 * 0.05).collect(),
            churn_duration_s: 3_600,
        }
    }
}

/// Runs everything, writes `out/`, returns the total number of invariant violations.
pub fn run(out: &Path, max_log_n: u32, quick: bool, seed: u64, json: bool, show_progress: bool) -> Result<u64, Error> {
    std::fs::create_dir_all(out)?;
    let s = sizes(max_log_n, quick);
    let mut bar = Bar::new(show_progress);
    let mut all: Vec<Report> = Vec::new();

    let mut paths = Vec::new();
    for &k in &s.log_ns {
        let n = 1usize << k;
        let lookups = if quick { 2_000 } else { (n as u64 * 10).clamp(10_000, 1_000_000) };
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        let p = LookupParams { nodes: n, lookups, seed, init: Init::Converged, threads, ..LookupParams::default() };
        let label = format!("path length N=2^{k}");
        let r = run_lookup(&p, &mut |_, d, t| bar.update(&label, d, t));
        paths.push((k, r.clone()));
        all.push(r);
    }
    // The PDF of path length at N = 2^12 (or the largest N run).
    let pdf_k = if s.log_ns.contains(&12) { 12 } else { *s.log_ns.last().unwrap_or(&3) };
    let pdf = {
        let p = LookupParams { nodes: 1 << pdf_k, lookups: 100_000, seed, init: Init::Converged, ..LookupParams::default() };
        pdf_of(&p, &mut bar)
    };

    let mut fails = Vec::new();
    for &f in &s.fractions {
        let p = FailParams { nodes: s.fail_nodes, keys: s.fail_keys, fail_fraction: f, replicas: 1, seed, ..FailParams::default() };
        let label = format!("fail p={f:.1}");
        let r = run_fail(&p, &mut |_, d, t| bar.update(&label, d, t));
        fails.push((f, r.clone()));
        all.push(r);
    }

    let mut churns = Vec::new();
    for &rate in &s.churn_rates {
        let p = ChurnParams { rate, duration_s: s.churn_duration_s, seed, ..ChurnParams::default() };
        let label = format!("churn rate={rate:.2}");
        let r = run_churn(&p, &mut |_, d, t| bar.update(&label, d, t));
        churns.push((rate, r.clone()));
        all.push(r);
    }
    bar.finish();

    plot_path_length(&out.join("path_length.svg"), &paths)?;
    plot_pdf(&out.join("path_pdf.svg"), pdf_k, &pdf)?;
    plot_xy(
        &out.join("fail.svg"),
        "Failed lookups after simultaneous failures (R = 1)",
        "fraction of nodes failed",
        "fraction of lookups failed",
        &fails.iter().map(|(f, r)| (*f, r.failed_fraction)).collect::<Vec<_>>(),
        true,
    )?;
    plot_xy(
        &out.join("churn.svg"),
        "Failed lookups under churn (500 nodes, stabilize 30 s)",
        "join rate = crash rate (per second)",
        "fraction of lookups failed",
        &churns.iter().map(|(x, r)| (*x, r.failed_fraction)).collect::<Vec<_>>(),
        false,
    )?;
    let md = table(&paths, pdf_k, &pdf, &fails, &churns, seed, quick);
    std::fs::write(out.join("results.md"), &md)?;
    std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&all)?)?;
    let violations: u64 = all.iter().map(|r| r.invariant_violations).sum();
    if json {
        println!("{}", serde_json::json!({ "scenario": "paper", "out": out, "runs": all.len(), "invariant_violations": violations }));
    } else {
        print!("{md}");
        println!("\nwrote {}/{{path_length,path_pdf,fail,churn}}.svg, results.md, results.json", out.display());
    }
    Ok(violations)
}

fn pdf_of(p: &LookupParams, bar: &mut Bar) -> Vec<f64> {
    run_lookup(p, &mut |_, d, t| bar.update("path length PDF", d, t)).hop_pdf
}

fn table(
    paths: &[(u32, Report)],
    pdf_k: u32,
    pdf: &[f64],
    fails: &[(f64, Report)],
    churns: &[(f64, Report)],
    seed: u64,
    quick: bool,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Chord paper experiments on the simulator\n");
    let _ = writeln!(s, "Command: `cargo run --release --bin chord-sim -- paper{}` (seed {seed}).\n", if quick { " --quick" } else { "" });
    let _ = writeln!(s, "## Path length (converged ring, random keys)\n");
    let _ = writeln!(s, "| N | lookups | mean | ½·log₂N | p1 | p50 | p99 | max | failed | wall s |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
    for (k, r) in paths {
        let _ = writeln!(
            s,
            "| 2^{k} | {} | {:.3} | {:.1} | {} | {} | {} | {} | {} | {:.1} |",
            r.lookups,
            r.mean_hops,
            *k as f64 / 2.0,
            r.p1_hops,
            r.p50_hops,
            r.p99_hops,
            r.max_hops,
            r.failed_lookups,
            r.wall_s
        );
    }
    let _ = writeln!(
        s,
        "\nPDF of path length at N = 2^{pdf_k}: {}\n",
        pdf.iter().enumerate().map(|(h, p)| format!("{h}: {p:.4}")).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(s, "## Simultaneous failures (R = 1, r = 20, lookups after stabilization)\n");
    let _ = writeln!(
        s,
        "| fraction failed | nodes | keys | failed lookups | wrong successor | value missing | keys lost | violations | breaches |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for (f, r) in fails {
        let _ = writeln!(
            s,
            "| {f:.1} | {} | {} | {:.4} | {} | {} | {} | {} | {} |",
            r.nodes,
            r.keys,
            r.failed_fraction,
            r.wrong_successor,
            r.missing_values,
            r.keys_lost,
            r.invariant_violations,
            r.assumption_breaches
        );
    }
    let _ = writeln!(s, "\nThe paper (SIGCOMM 2001, §6.4): \"The lookup failure rate is almost exactly p.\"\n");
    let _ = writeln!(s, "## Churn (500 nodes, stabilize every 30 s on average, R = 3, r = 8, 1 lookup/s)\n");
    let _ = writeln!(
        s,
        "| rate /s | lookups | failed | failed fraction | wrong successor | value missing | keys lost (allowed) | violations | breaches |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for (x, r) in churns {
        let _ = writeln!(
            s,
            "| {x:.2} | {} | {} | {:.4} | {} | {} | {} ({}) | {} | {} |",
            r.lookups,
            r.failed_lookups,
            r.failed_fraction,
            r.wrong_successor,
            r.missing_values,
            r.keys_lost,
            r.keys_lost_allowed,
            r.invariant_violations,
            r.assumption_breaches
        );
    }
    s
}

fn plot_path_length(path: &Path, rows: &[(u32, Report)]) -> Result<(), Error> {
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_k = rows.iter().map(|(k, _)| *k).max().unwrap_or(3) as f64;
    let max_y = rows.iter().map(|(_, r)| r.p99_hops).max().unwrap_or(1) as f64 + 1.0;
    let mut chart = ChartBuilder::on(&root)
        .caption("Path length vs number of nodes", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(2.0..max_k + 1.0, 0.0..max_y)?;
    chart.configure_mesh().x_desc("log2 N").y_desc("path length (hops)").draw()?;
    type Series = (&'static str, RGBColor, fn(&Report) -> f64);
    let series: [Series; 3] =
        [("mean", BLUE, |r| r.mean_hops), ("1st percentile", GREEN, |r| r.p1_hops as f64), ("99th percentile", RED, |r| r.p99_hops as f64)];
    for (name, color, f) in series {
        let pts: Vec<(f64, f64)> = rows.iter().map(|(k, r)| (*k as f64, f(r))).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
    }
    let half: Vec<(f64, f64)> = rows.iter().map(|(k, _)| (*k as f64, *k as f64 / 2.0)).collect();
    chart
        .draw_series(LineSeries::new(half, BLACK.mix(0.4)))?
        .label("½·log2 N")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.4)));
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn plot_pdf(path: &Path, k: u32, pdf: &[f64]) -> Result<(), Error> {
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_y = pdf.iter().cloned().fold(0.0, f64::max) * 1.15 + 0.01;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("PDF of path length, N = 2^{k}"), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5..(pdf.len() as f64), 0.0..max_y)?;
    chart.configure_mesh().x_desc("path length (hops)").y_desc("probability").draw()?;
    chart
        .draw_series(pdf.iter().enumerate().map(|(h, p)| Rectangle::new([(h as f64 - 0.35, 0.0), (h as f64 + 0.35, *p)], BLUE.filled())))?;
    root.present()?;
    Ok(())
}

fn plot_xy(path: &Path, title: &str, xd: &str, yd: &str, pts: &[(f64, f64)], diagonal: bool) -> Result<(), Error> {
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_x = pts.iter().map(|p| p.0).fold(0.0, f64::max) * 1.1 + 0.01;
    let max_y = pts.iter().map(|p| p.1).fold(0.0, f64::max).max(if diagonal { max_x } else { 0.0 }) * 1.15 + 0.01;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x, 0.0..max_y)?;
    chart.configure_mesh().x_desc(xd).y_desc(yd).draw()?;
    if diagonal {
        chart
            .draw_series(LineSeries::new(vec![(0.0, 0.0), (max_x, max_x)], BLACK.mix(0.3)))?
            .label("y = x")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.3)));
    }
    chart
        .draw_series(LineSeries::new(pts.to_vec(), BLUE))?
        .label("simulated")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE));
    chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, BLUE.filled())))?;
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
