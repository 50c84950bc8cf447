//! The initial import (and re-import) of firms, persons, projects and business cases, as the
//! `items.import` job (its admin endpoints are in `admin_api`).
//!
//! A run pages through each kind with `limit=1000`, keeping a few pages in flight (within the
//! CRM's connection limit) while the previous one is written in one batched statement. Its
//! progress (next offset per kind) is saved after every page. A run is the one-off job of the
//! same id, so the job's lease is its only sign of life: a run whose process died is taken over
//! by a worker once that lease runs out, and continues where it was. Rows the CRM no longer has are
//! swept per kind at the end; the in-memory index is rebuilt once when the run is done.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use crm_bridge_wire::JobStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Item, ItemKind, ItemsCtx};
use crate::{
    backoff,
    crm::{Crm, CrmError, MAX_PAGE, Page, PageRequest, RecordKind},
    jobs::{JobError, JobKind, WorkError},
    store::{ImportRunRow, Job, Store, StoreError, now_ms},
};

/// The lease of a run's job: a dead process's run is taken over this long after it last
/// renewed it.
const LEASE: Duration = Duration::from_secs(10);
/// Pages fetched ahead while one is being written.
const PIPELINE: usize = 3;
/// Attempts for one page before the run fails.
const PAGE_ATTEMPTS: u32 = 6;

/// Progress of one kind of record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct KindProgress {
    /// Kind of record.
    pub kind: ItemKind,
    /// Records imported so far.
    pub done: u64,
    /// Records the CRM reported (unknown before the first page).
    pub total: Option<u64>,
    /// Offset of the next page to fetch.
    #[serde(default)]
    pub offset: u64,
    /// Records per second while this kind was running.
    #[serde(default)]
    pub rate_per_s: f64,
    /// Pages that needed a retry.
    #[serde(default)]
    pub errors: u64,
    /// All pages imported and the sweep done.
    #[serde(default)]
    pub finished: bool,
    /// When this kind started (Unix ms).
    #[serde(default)]
    pub started_ms: Option<i64>,
}

/// An import run as the admin UI shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportRun {
    /// Run id.
    pub run_id: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error: Option<String>,
    /// Progress per kind.
    pub kinds: Vec<KindProgress>,
    /// Estimated seconds left.
    pub eta_s: Option<u64>,
}

fn initial_progress() -> Vec<KindProgress> {
    ItemKind::ALL
        .into_iter()
        .map(|kind| KindProgress {
            kind,
            done: 0,
            total: None,
            offset: 0,
            rate_per_s: 0.0,
            errors: 0,
            finished: false,
            started_ms: None,
        })
        .collect()
}

fn ms_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl ImportRun {
    /// The run stored as `row`.
    pub fn from_row(row: &ImportRunRow) -> Self {
        let kinds: Vec<KindProgress> =
            serde_json::from_str(&row.progress).unwrap_or_else(|_| initial_progress());
        let left: u64 = kinds
            .iter()
            .filter(|k| !k.finished)
            .map(|k| k.total.unwrap_or(0).saturating_sub(k.done))
            .sum();
        let rate = kinds
            .iter()
            .rev()
            .find(|k| k.rate_per_s > 0.0)
            .map(|k| k.rate_per_s);
        let eta_s = match (JobStatus::parse(&row.status), rate) {
            (Some(JobStatus::Running), Some(rate)) => Some((left as f64 / rate).ceil() as u64),
            (Some(JobStatus::Done), _) => Some(0),
            _ => None,
        };
        Self {
            run_id: row.run_id.clone(),
            status: row.status.clone(),
            started_at: ms_to_time(row.started_at),
            finished_at: row.finished_at.map(ms_to_time),
            error: row.error.clone(),
            kinds,
            eta_s,
        }
    }
}

/// Queues a run (and its job); `Busy` when one is queued or running.
pub async fn queue_run(state: &ItemsCtx, by: Option<&str>) -> Result<String, WorkError> {
    let run_id = queue_run_with(state.store.as_ref(), by).await?;
    state.jobs.wake();
    Ok(run_id)
}

/// Queues a run directly in `store` (for tools that run without a server state).
pub async fn queue_run_in(store: &dyn Store) -> Result<String, WorkError> {
    queue_run_with(store, None).await
}

async fn queue_run_with(store: &dyn Store, by: Option<&str>) -> Result<String, WorkError> {
    if unfinished_run(store).await?.is_some() {
        return Err(WorkError::Busy("an import is already running".into()));
    }
    let run_id = uuid::Uuid::now_v7().to_string();
    let progress =
        serde_json::to_string(&initial_progress()).map_err(|e| WorkError::Broken(e.to_string()))?;
    store
        .create_import_run(&run_id, by, &progress, IMPORT_JOB)
        .await?;
    Ok(run_id)
}

/// The queued or running run whose job still waits or runs (a worker holds its lease, or will
/// take it), if any.
pub async fn unfinished_run(store: &dyn Store) -> Result<Option<ImportRunRow>, StoreError> {
    for run in store.import_runs(5).await? {
        let open = matches!(
            JobStatus::parse(&run.status),
            Some(JobStatus::Queued | JobStatus::Running)
        );
        if open
            && store
                .job(&run.run_id)
                .await?
                .is_some_and(|job| JobStatus::parse(&job.status) == Some(JobStatus::Queued))
        {
            return Ok(Some(run));
        }
    }
    Ok(None)
}

/// The job kind that runs an import; each run is one job of this kind, with the run's id.
pub const IMPORT_JOB: &str = "items.import";

/// The `items.import` job: runs (or continues) the run of its id to its end. Its lease is short,
/// so another instance takes over a dead one's import soon.
pub struct RunImports {
    state: ItemsCtx,
}

impl RunImports {
    /// The kind, importing with `state`.
    pub fn new(state: ItemsCtx) -> Self {
        Self { state }
    }
}

#[async_trait::async_trait]
impl JobKind for RunImports {
    fn name(&self) -> &'static str {
        IMPORT_JOB
    }

    fn lease(&self) -> Option<Duration> {
        Some(LEASE)
    }

    async fn run(&self, job: &Job) -> Result<(), JobError> {
        // `None`: the run has ended (its outcome is recorded on it).
        if let Some(row) = self.state.store.start_import_run(&job.id).await? {
            execute(&self.state, row).await;
        }
        Ok(())
    }

    async fn failed(&self, job: &Job, reason: &str) {
        let run = match self.state.store.import_run(&job.id).await {
            Ok(Some(run))
                if matches!(
                    JobStatus::parse(&run.status),
                    Some(JobStatus::Queued | JobStatus::Running)
                ) =>
            {
                run
            }
            Ok(_) => return,
            Err(e) => {
                tracing::error!(error = %e, run = %job.id, "cannot read a failed import");
                return;
            }
        };
        let failed = JobStatus::Failed.as_str();
        if let Err(e) = (self.state.store)
            .finish_import_run(&run.run_id, failed, &run.progress, Some(reason))
            .await
        {
            tracing::error!(error = %e, run = %job.id, "cannot record the end of an import");
        }
    }
}

/// Runs a started import to its end, saving its progress after every page; never panics, a
/// failure is recorded on the run.
async fn execute(state: &ItemsCtx, row: ImportRunRow) {
    let mut progress: Vec<KindProgress> =
        serde_json::from_str(&row.progress).unwrap_or_else(|_| initial_progress());
    let mut result = run_kinds(state, &row, &mut progress).await;
    if result.is_ok() {
        // Later changes are the reconcile's; it starts from the moment this run started.
        result = super::reconcile::set_watermarks(state, row.started_at).await;
    }
    // "Done" means visible in lookups: the index is rebuilt (the job's lease still renewed) first.
    if let Err(e) = state.items.rebuild(state.store.as_ref()).await {
        tracing::error!(error = %e, "rebuilding the item index after an import failed");
    }
    let text = serde_json::to_string(&progress).unwrap_or_default();
    let (status, error) = match &result {
        Ok(()) => (JobStatus::Done.as_str(), None),
        Err(e) => (JobStatus::Failed.as_str(), Some(e.to_string())),
    };
    if let Err(e) = state
        .store
        .finish_import_run(&row.run_id, status, &text, error.as_deref())
        .await
    {
        tracing::error!(error = %e, run = %row.run_id, "cannot record the end of an import");
    }
    super::sync::announce_rebuild(state).await;
    match result {
        Ok(()) => tracing::info!(run = %row.run_id, "import done"),
        Err(e) => tracing::warn!(run = %row.run_id, error = %e, "import failed"),
    }
}

async fn run_kinds(
    state: &ItemsCtx,
    row: &ImportRunRow,
    progress: &mut [KindProgress],
) -> Result<(), WorkError> {
    let crm = state
        .crm
        .admin(state.store.as_ref(), &state.master_key)
        .await?;
    for i in 0..progress.len() {
        if progress[i].finished {
            continue;
        }
        let kind = progress[i].kind;
        progress[i].started_ms.get_or_insert_with(now_ms);
        let mut pages = PageStream::new(crm.clone(), kind, progress[i].offset);
        while let Some(page) = pages.next(&mut progress[i].errors).await? {
            let items: Vec<Item> = page.items.into_iter().map(Item::from).collect();
            let count = items.len() as u64;
            state.store.upsert_items(&items, Some(&row.run_id)).await?;
            let p = &mut progress[i];
            p.done += count;
            p.offset += count;
            p.total = Some(page.total.max(p.done));
            let elapsed = (now_ms() - p.started_ms.unwrap_or_else(now_ms)).max(1) as f64 / 1000.0;
            p.rate_per_s = (p.done as f64 / elapsed * 10.0).round() / 10.0;
            save(state, &row.run_id, progress).await?;
        }
        let swept = state
            .store
            .sweep_items(kind, &row.run_id, row.started_at)
            .await?;
        if !swept.is_empty() {
            tracing::info!(
                kind = kind.as_str(),
                removed = swept.len(),
                "removed records the CRM no longer has"
            );
        }
        progress[i].finished = true;
        progress[i].total = Some(progress[i].done);
        save(state, &row.run_id, progress).await?;
    }
    Ok(())
}

async fn save(state: &ItemsCtx, run: &str, progress: &[KindProgress]) -> Result<(), WorkError> {
    let text = serde_json::to_string(progress).map_err(|e| WorkError::Broken(e.to_string()))?;
    state.store.save_import_progress(run, &text).await?;
    Ok(())
}

/// A page being fetched.
type PageTask = tokio::task::JoinHandle<Result<Page<crate::crm::CrmRecord>, CrmError>>;

/// Pages of one kind, fetched a few ahead of the writer (also the benchmark's fetch-only
/// baseline, so both page through the CRM the same way).
pub struct PageStream {
    crm: Arc<dyn Crm>,
    kind: RecordKind,
    next_offset: u64,
    in_flight: VecDeque<(u64, PageTask)>,
    total: Option<u64>,
    done: bool,
}

impl PageStream {
    /// Pages of `kind` from `offset` on.
    pub fn new(crm: Arc<dyn Crm>, kind: ItemKind, offset: u64) -> Self {
        Self {
            crm,
            kind,
            next_offset: offset,
            in_flight: VecDeque::new(),
            total: None,
            done: false,
        }
    }

    fn spawn(&mut self, offset: u64) {
        let crm = self.crm.clone();
        let kind = self.kind;
        let request = PageRequest {
            offset,
            limit: MAX_PAGE,
            changed_since: None,
        };
        self.in_flight.push_back((
            offset,
            tokio::spawn(async move { crm.list(kind, request).await }),
        ));
    }

    fn fill(&mut self) {
        // Before the total is known, fetch one page at a time.
        let depth = if self.total.is_some() { PIPELINE } else { 1 };
        while !self.done && self.in_flight.len() < depth {
            if self.total.is_some_and(|t| self.next_offset >= t) {
                break;
            }
            let offset = self.next_offset;
            self.spawn(offset);
            self.next_offset += MAX_PAGE;
        }
    }

    /// The next page (`None` after the last); retried pages are counted in `errors`.
    pub async fn next(
        &mut self,
        errors: &mut u64,
    ) -> Result<Option<Page<crate::crm::CrmRecord>>, WorkError> {
        self.fill();
        let Some((offset, handle)) = self.in_flight.pop_front() else {
            return Ok(None);
        };
        let mut result = handle
            .await
            .unwrap_or_else(|e| Err(CrmError::Upstream(e.to_string())));
        let mut attempt = 1;
        while let Err(err) = &result {
            if !err.is_transient() || attempt >= PAGE_ATTEMPTS {
                self.abort();
                return Err(WorkError::from(result.err().unwrap_or(CrmError::NotFound)));
            }
            *errors += 1;
            let wait = match err {
                CrmError::RateLimited { until: Some(t) } => (*t - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .min(Duration::from_secs(300)),
                _ => backoff::delay(attempt, Duration::from_secs(1), Duration::from_secs(32)),
            };
            tracing::warn!(error = %err, offset, "an import page failed; retrying");
            tokio::time::sleep(wait).await;
            let request = PageRequest {
                offset,
                limit: MAX_PAGE,
                changed_since: None,
            };
            result = self.crm.list(self.kind, request).await;
            attempt += 1;
        }
        let page = result?;
        self.total = Some(page.total);
        if (page.items.len() as u64) < MAX_PAGE {
            // A short page is the last one, whatever the total said.
            self.done = true;
            self.abort();
        }
        if page.items.is_empty() {
            return Ok(None);
        }
        Ok(Some(page))
    }

    fn abort(&mut self) {
        for (_, handle) in self.in_flight.drain(..) {
            handle.abort();
        }
    }
}

impl Drop for PageStream {
    fn drop(&mut self) {
        self.abort();
    }
}
