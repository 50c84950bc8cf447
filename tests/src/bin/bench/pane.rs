//! The task pane's loading against the release server, in headless Chromium driven by
//! `tests/browser/pane_bench.mjs` (which shares `pane_open.mjs` with the pane's loading test):
//! first opening with a cold cache until the pane is interactive (its search field accepts
//! typing), and the bytes a second opening transfers.

use std::{path::PathBuf, process::Stdio};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::{bench, load::percentile};

/// Cold-cache openings measured (each in a fresh browser context).
const RUNS: usize = 5;

#[derive(Deserialize)]
struct Measured {
    first_ms: Vec<f64>,
    first_bytes: Vec<u64>,
    second_bytes: Vec<u64>,
}

/// Measures the pane of the server at `base` and prints `pane_first_load_ms` (median of the cold
/// openings), `pane_first_load_max_ms`, `pane_first_bytes` and `pane_second_open_bytes` (the
/// largest second opening).
pub(crate) async fn measure(base: &str) -> anyhow::Result<()> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser");
    if !dir.join("node_modules/playwright-core").is_dir() {
        bail!(
            "playwright-core is missing: run `npm ci` in {} (scripts/test does it)",
            dir.display()
        );
    }
    let output = tokio::process::Command::new("node")
        .arg(dir.join("pane_bench.mjs"))
        .env("BASE_URL", base)
        .env("RUNS", RUNS.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .context("cannot run node")?;
    // Each opening's steps (page, files, scripts, wasm), for the reader.
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        bail!("pane_bench.mjs failed: {}", output.status);
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .last()
        .context("pane_bench.mjs printed nothing")?;
    let m: Measured =
        serde_json::from_str(line).with_context(|| format!("pane_bench.mjs printed {line:?}"))?;
    bench(
        "pane_first_load_ms",
        format!("{:.0}", percentile(&m.first_ms, 0.5)),
    );
    bench(
        "pane_first_load_max_ms",
        format!("{:.0}", percentile(&m.first_ms, 1.0)),
    );
    bench(
        "pane_first_bytes",
        m.first_bytes.iter().max().copied().unwrap_or_default(),
    );
    bench(
        "pane_second_open_bytes",
        m.second_bytes.iter().max().copied().unwrap_or_default(),
    );
    Ok(())
}
