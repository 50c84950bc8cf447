//! The load generators: closed loop (a fixed number of requests in flight, latency from send to
//! the last byte) and open loop (requests sent at a fixed rate by a paced thread, latency from
//! each request's scheduled send time, so a server that falls behind is not hidden by a
//! generator that waits for it). Both on hyper through reqwest with kept-alive connections.

use std::time::{Duration, Instant};

use anyhow::bail;

/// Requests per second of the open-loop phase.
pub(crate) const OPEN_LOOP_RATE: u32 = 1000;

/// Sends `rate` requests a second for `duration` whatever the answers do; each latency counts from
/// the request's scheduled send time. Every answer must be 2xx.
pub(crate) async fn open_loop<F>(
    rate: u32,
    duration: Duration,
    make: F,
) -> anyhow::Result<LoadResult>
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + Clone + 'static,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    for n in 0..64 {
        make(&client, n).send().await?.error_for_status()?;
    }
    let total = (f64::from(rate) * duration.as_secs_f64()) as usize;
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let runtime = tokio::runtime::Handle::current();
    let started = Instant::now();
    // A thread paces the sends: the runtime's timer ticks in whole milliseconds.
    let pacer = std::thread::spawn(move || {
        for n in 0..total {
            let scheduled = started + Duration::from_secs_f64(n as f64 / f64::from(rate));
            if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let request = make(&client, n);
            let _ = sender.send(runtime.spawn(async move {
                let response = request.send().await?;
                let status = response.status();
                let _ = response.bytes().await?;
                if !status.is_success() {
                    bail!("an open-loop request answered {status}");
                }
                Ok::<_, anyhow::Error>(scheduled.elapsed().as_secs_f64() * 1000.0)
            }));
        }
    });
    let mut latencies = Vec::with_capacity(total);
    while let Some(task) = receiver.recv().await {
        latencies.push(task.await??);
    }
    let elapsed = started.elapsed();
    pacer
        .join()
        .map_err(|_| anyhow::anyhow!("the pacer thread panicked"))?;
    Ok(LoadResult { latencies, elapsed })
}

/// Latencies (ms) and the wall time of one load phase.
pub(crate) struct LoadResult {
    latencies: Vec<f64>,
    elapsed: Duration,
}

impl LoadResult {
    /// The `q` quantile (0–1) of the latencies, in ms.
    pub(crate) fn p(&self, q: f64) -> f64 {
        percentile(&self.latencies, q)
    }

    /// Answers per second.
    pub(crate) fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// The `q` quantile (0–1) of `values` (NaN when empty).
pub(crate) fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Keeps `concurrency` requests in flight for `duration`; every answer must be 2xx.
pub(crate) async fn load<F>(
    concurrency: usize,
    duration: Duration,
    make: F,
) -> anyhow::Result<LoadResult>
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + Clone + 'static,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    // Warm-up: connections and caches.
    for n in 0..concurrency * 4 {
        make(&client, n).send().await?.error_for_status()?;
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let client = client.clone();
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = worker * 1_000_003;
            while Instant::now() < deadline {
                let t = Instant::now();
                let response = make(&client, n).send().await?;
                let status = response.status();
                let _ = response.bytes().await?;
                if !status.is_success() {
                    bail!("a load request answered {status}");
                }
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                n += 1;
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(LoadResult {
        latencies,
        elapsed: started.elapsed(),
    })
}
