//! The item cache service: writes go to the database first and then to the in-memory index, so
//! a restart (or another instance) rebuilds exactly what lookups showed. Every full build is
//! saved as a snapshot (`snapshot`), from which the next start loads in a fraction of the time.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    sync::Arc,
};

use futures::TryStreamExt;

use super::{
    Item, ItemKind,
    index::{Change, ItemIndex, Segment, SegmentBuilder},
    snapshot::{self, Fingerprint, FingerprintBuilder},
};
use crate::store::{Store, StoreError, StoreResult};

/// Overlay size above which a rebuild is worthwhile (at least this many, or 1 % of the items).
const REBUILD_MIN: usize = 10_000;

/// Recent picks kept per employee and kind (a pick made on any instance is announced at once, see
/// `caches`; this only bounds what idle employees keep in memory).
const RECENT_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// Recent picks considered per lookup.
const RECENT_PICKS: i64 = 20;

/// The cache shared through `AppState`.
pub struct ItemCache {
    index: ItemIndex,
    recent: moka::future::Cache<(String, ItemKind), std::sync::Arc<Vec<i64>>>,
    /// Where full builds are saved and the start loads from (`None`: no snapshot).
    snapshot: Option<PathBuf>,
    /// The snapshot being saved, if any.
    saving: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Default for ItemCache {
    fn default() -> Self {
        Self {
            index: ItemIndex::default(),
            recent: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(RECENT_TTL)
                .build(),
            snapshot: None,
            saving: parking_lot::Mutex::new(None),
        }
    }
}

/// How [`ItemCache::load`] filled the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// From the snapshot, plus the rows written since it was saved: this many changed or new
    /// and this many gone.
    Snapshot {
        /// Rows changed or new.
        caught_up: usize,
        /// Rows removed.
        removed: usize,
    },
    /// From the database, because the snapshot could not be used (the reason).
    Built(String),
}

impl std::fmt::Debug for ItemCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemCache")
            .field("index", &self.index.stats())
            .finish_non_exhaustive()
    }
}

impl ItemCache {
    /// An empty cache without a snapshot (call [`ItemCache::rebuild`] to load it).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache that saves every full build to `path` and starts from it (call
    /// [`ItemCache::load`]).
    pub fn with_snapshot(path: PathBuf) -> Self {
        Self {
            snapshot: Some(path),
            ..Self::default()
        }
    }

    /// The employee's recent picks of `kind`, most recent first (cached; the database is
    /// read once per employee and kind).
    pub async fn recent_picks(
        &self,
        store: &dyn Store,
        employee: &str,
        kind: ItemKind,
    ) -> StoreResult<std::sync::Arc<Vec<i64>>> {
        let key = (employee.to_owned(), kind);
        if let Some(picks) = self.recent.get(&key).await {
            return Ok(picks);
        }
        let picks = std::sync::Arc::new(store.recent_picks(employee, kind, RECENT_PICKS).await?);
        self.recent.insert(key, picks.clone()).await;
        Ok(picks)
    }

    /// Records a pick and forgets the cached list, so the next lookup ranks it first.
    pub async fn record_pick(
        &self,
        store: &dyn Store,
        employee: &str,
        kind: ItemKind,
        id: i64,
    ) -> StoreResult<()> {
        store.record_pick(employee, kind, id).await?;
        self.recent.invalidate(&(employee.to_owned(), kind)).await;
        Ok(())
    }

    /// Forgets the cached picks of `employee` (changed on another instance).
    pub async fn forget_picks(&self, employee: &str) {
        for kind in ItemKind::ALL {
            self.recent.invalidate(&(employee.to_owned(), kind)).await;
        }
    }

    /// Forgets every cached pick.
    pub fn forget_all_picks(&self) {
        self.recent.invalidate_all();
    }

    /// The searchable index.
    pub fn index(&self) -> &ItemIndex {
        &self.index
    }

    /// Rebuilds the index from the database; changes applied meanwhile are kept. The new
    /// segment is saved as the snapshot in the background ([`ItemCache::snapshot_saved`]).
    pub async fn rebuild(&self, store: &dyn Store) -> StoreResult<()> {
        let version = self.index.version();
        let mut builder = SegmentBuilder::new();
        let mut fingerprint = FingerprintBuilder::default();
        for kind in ItemKind::ALL {
            // A hint only: rows written meanwhile just grow the list.
            let rows = store.count_items(kind).await?;
            fingerprint.reserve(kind, usize::try_from(rows).unwrap_or(0));
        }
        let mut rows = store.stream_items_synced();
        while let Some((item, synced_at)) = rows.try_next().await? {
            fingerprint.push(item.kind, item.id, synced_at);
            builder.push(&item);
        }
        drop(rows);
        let segment = Arc::new(
            tokio::task::spawn_blocking(move || builder.finish())
                .await
                .map_err(|e| StoreError::Corrupt(format!("index build failed: {e}")))?,
        );
        tracing::debug!(
            items = segment.len(),
            bytes = segment.heap_bytes(),
            "item index built"
        );
        self.index.install_shared(segment.clone(), version);
        self.save_snapshot(segment, fingerprint.finish());
        Ok(())
    }

    /// Fills the empty index at start: from the snapshot when the database confirms it (plus
    /// the rows written since), else by [`ItemCache::rebuild`].
    pub async fn load(&self, store: &dyn Store) -> StoreResult<Loaded> {
        let reason = match &self.snapshot {
            None => "no snapshot configured".to_owned(),
            Some(path) => match self.load_snapshot(store, path).await {
                Ok(loaded) => return Ok(loaded),
                Err(reason) => reason,
            },
        };
        self.rebuild(store).await?;
        Ok(Loaded::Built(reason))
    }

    async fn load_snapshot(&self, store: &dyn Store, path: &Path) -> Result<Loaded, String> {
        let version = self.index.version();
        let path = path.to_owned();
        let (segment, fingerprint) = tokio::task::spawn_blocking(move || snapshot::load(&path))
            .await
            .map_err(|e| format!("reading the snapshot failed: {e}"))?
            .map_err(|e| e.to_string())?;
        let watermark = fingerprint
            .watermark()
            .ok_or("the snapshot holds no items")?;
        let (written, stored) = store
            .items_written_since(watermark)
            .await
            .map_err(|e| format!("the database cannot confirm the snapshot: {e}"))?;
        let seen: HashSet<(ItemKind, i64)> = written.iter().map(|i| (i.kind, i.id)).collect();
        if !fingerprint.matches(watermark, &stored, seen.iter().copied()) {
            return Err(
                "items written before the snapshot's last write changed or were removed".into(),
            );
        }
        // The rows of the snapshot's last write are read again; most are unchanged, and an
        // overlay entry for them would only shadow the segment with the same item.
        let mut changes: Vec<Change> = written
            .into_iter()
            .filter(|item| !segment.holds(item))
            .map(Change::Upsert)
            .collect();
        let caught_up = changes.len();
        changes.extend(
            fingerprint
                .written_exactly_at(watermark)
                .filter(|key| !seen.contains(key))
                .map(|(kind, id)| Change::Delete(kind, id)),
        );
        let removed = changes.len() - caught_up;
        self.index.install(segment, version);
        self.index.apply(changes);
        Ok(Loaded::Snapshot { caught_up, removed })
    }

    fn save_snapshot(&self, segment: Arc<Segment>, fingerprint: Option<Fingerprint>) {
        let Some(path) = self.snapshot.clone() else {
            return;
        };
        let mut saving = self.saving.lock();
        let previous = saving.take();
        *saving = Some(tokio::task::spawn(async move {
            // One save at a time, in order: the last build's snapshot is the one left.
            if let Some(previous) = previous {
                let _ = previous.await;
            }
            let saved = tokio::task::spawn_blocking(move || match fingerprint {
                Some(fingerprint) => snapshot::save(&path, &segment, &fingerprint),
                None => snapshot::remove(&path),
            })
            .await;
            match saved {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot save the item index snapshot; the next start reads every item from the database")
                }
                Err(e) => tracing::warn!(error = %e, "saving the item index snapshot failed"),
            }
        }));
    }

    /// Waits until the snapshot of the last build is saved (or its saving failed).
    pub async fn snapshot_saved(&self) {
        let saving = self.saving.lock().take();
        if let Some(saving) = saving {
            let _ = saving.await;
        }
    }

    /// Stores new or changed items and shows them in lookups at once.
    pub async fn upsert(&self, store: &dyn Store, items: Vec<Item>) -> StoreResult<()> {
        if items.is_empty() {
            return Ok(());
        }
        store.upsert_items(&items, None).await?;
        self.index.apply(items.into_iter().map(Change::Upsert));
        Ok(())
    }

    /// Removes items from the database and from lookups.
    pub async fn delete(&self, store: &dyn Store, keys: &[(ItemKind, i64)]) -> StoreResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        store.delete_items(keys).await?;
        self.index
            .apply(keys.iter().map(|(k, id)| Change::Delete(*k, *id)));
        Ok(())
    }

    /// Re-reads `keys` from the database into the index (changes made by another instance).
    pub async fn refresh(&self, store: &dyn Store, keys: &[(ItemKind, i64)]) -> StoreResult<()> {
        let found = store.items_by_keys(keys).await?;
        let mut changes: Vec<Change> = keys
            .iter()
            .filter(|(k, id)| !found.iter().any(|i| i.kind == *k && i.id == *id))
            .map(|(k, id)| Change::Delete(*k, *id))
            .collect();
        changes.extend(found.into_iter().map(Change::Upsert));
        self.index.apply(changes);
        Ok(())
    }

    /// Whether the overlay has grown enough to rebuild.
    pub fn wants_rebuild(&self) -> bool {
        let stats = self.index.stats();
        stats.overlay >= REBUILD_MIN.max(stats.base / 100)
    }
}
