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

/// The cache shared through `AppState`.
#[derive(Debug, Default)]
pub struct ItemCache {
    index: ItemIndex,
}

impl ItemCache {
    /// An empty cache (call [`ItemCache::rebuild`] to load it).
    pub fn new() -> Self {
        Self::default()
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
