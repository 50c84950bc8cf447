//! The load generators: closed loop (a fixed number of requests in flight, latency from send to
//! the last byte) and open loop (requests sent at a fixed rate by a paced thread, latency from
//! each request's scheduled send time, so a server that falls behind is not hidden by a
//! generator that waits for it). Both on [`http1`](crate::http1)'s kept-alive connections with
//! requests prepared before the phase, and both on one thread of their own (a current-thread
//! runtime): on 2 cores shared with the server, a generator on as many threads as there are
//! cores adds threads that the OS time-slices against the server's.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use anyhow::bail;

use crate::http1::{Conn, Requests};

/// Requests per second of the open-loop phase.
pub(crate) const OPEN_LOOP_RATE: u32 = 1000;

/// Connections opened before the open-loop phase (more are opened if ever all are busy).
const OPEN_LOOP_CONNECTIONS: usize = 64;

/// Runs `phase` on a runtime of its own with `threads` threads (1: a current-thread runtime).
async fn alone<F>(threads: usize, phase: F) -> anyhow::Result<LoadResult>
where
    F: Future<Output = anyhow::Result<LoadResult>> + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let runtime = if threads <= 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()?
        };
        runtime.block_on(phase)
    })
    .await?
}

/// Sends `rate` requests a second for `duration` whatever the answers do; each latency counts from
/// the request's scheduled send time. Every answer must be 2xx.
pub(crate) async fn open_loop(
    threads: usize,
    rate: u32,
    duration: Duration,
    requests: Arc<Requests>,
) -> anyhow::Result<LoadResult> {
    alone(threads, open_loop_here(rate, duration, requests)).await
}

async fn open_loop_here(
    rate: u32,
    duration: Duration,
    requests: Arc<Requests>,
) -> anyhow::Result<LoadResult> {
    let mut idle = Vec::with_capacity(OPEN_LOOP_CONNECTIONS);
    for n in 0..OPEN_LOOP_CONNECTIONS {
        let mut conn = Conn::open(requests.addr).await?;
        check(conn.send(requests.nth(n)).await?)?;
        idle.push(conn);
    }
    let idle = Arc::new(Mutex::new(idle));
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
            let (idle, requests) = (idle.clone(), requests.clone());
            let _ = sender.send(runtime.spawn(async move {
                let taken = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
                let mut conn = match taken {
                    Some(conn) => conn,
                    None => Conn::open(requests.addr).await?,
                };
                check(conn.send(requests.nth(n)).await?)?;
                let latency = scheduled.elapsed().as_secs_f64() * 1000.0;
                idle.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(conn);
                Ok::<_, anyhow::Error>(latency)
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

fn check(status: u16) -> anyhow::Result<()> {
    if !(200..300).contains(&status) {
        bail!("a load request answered {status}");
    }
    Ok(())
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

/// Keeps `concurrency` requests in flight for `duration`, each worker on its own connection;
/// every answer must be 2xx.
pub(crate) async fn load(
    threads: usize,
    concurrency: usize,
    duration: Duration,
    requests: Arc<Requests>,
) -> anyhow::Result<LoadResult> {
    alone(threads, load_here(concurrency, duration, requests)).await
}

async fn load_here(
    concurrency: usize,
    duration: Duration,
    requests: Arc<Requests>,
) -> anyhow::Result<LoadResult> {
    // Connections first, and a warm-up on each (caches, the server's first answers).
    let mut conns = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let mut conn = Conn::open(requests.addr).await?;
        for k in 0..4 {
            check(conn.send(requests.nth(worker * 4 + k)).await?)?;
        }
        conns.push(conn);
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for (worker, mut conn) in conns.into_iter().enumerate() {
        let requests = requests.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = worker * 1_000_003;
            while Instant::now() < deadline {
                let t = Instant::now();
                check(conn.send(requests.nth(n)).await?)?;
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
