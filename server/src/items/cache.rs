//! The item cache service: writes go to the database first and then to the in-memory index, so
//! a restart (or another instance) rebuilds exactly what lookups showed.

use futures::TryStreamExt;

use super::{
    Item, ItemKind,
    index::{Change, ItemIndex, SegmentBuilder},
};
use crate::store::{Store, StoreResult};

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
}

impl Default for ItemCache {
    fn default() -> Self {
        Self {
            index: ItemIndex::default(),
            recent: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(RECENT_TTL)
                .build(),
        }
    }
}

impl std::fmt::Debug for ItemCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemCache")
            .field("index", &self.index.stats())
            .finish_non_exhaustive()
    }
}

impl ItemCache {
    /// An empty cache (call [`ItemCache::rebuild`] to load it).
    pub fn new() -> Self {
        Self::default()
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

    /// Rebuilds the index from the database; changes applied meanwhile are kept.
    pub async fn rebuild(&self, store: &dyn Store) -> StoreResult<()> {
        let version = self.index.version();
        let mut builder = SegmentBuilder::new();
        let mut rows = store.stream_items();
        while let Some(item) = rows.try_next().await? {
            builder.push(&item);
        }
        drop(rows);
        let segment = tokio::task::spawn_blocking(move || builder.finish())
            .await
            .map_err(|e| crate::store::StoreError::Corrupt(format!("index build failed: {e}")))?;
        self.index.install(segment, version);
        Ok(())
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
