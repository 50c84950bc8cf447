//! The item index snapshot on every backend: a restart loads the saved index and catches up
//! with the rows written since, and answers lookups exactly as before; a snapshot the database
//! contradicts, or a damaged one, is ignored and the index is built from the database.

use std::{path::Path, time::Duration};

use server::{
    items::{
        Item, ItemKind,
        cache::{ItemCache, Loaded},
        index::{ItemView, Lookup},
        snapshot,
    },
    store::{self, Store},
};
use tests::all_backends;

const BATCHES: i64 = 4;
const PER_BATCH: i64 = 600;

fn item(id: i64) -> Item {
    let kind = ItemKind::ALL[(id % 4) as usize];
    let firm = ["Vítkovice", "Nová Huť", "Žlutý Kůň", "Alfa Beta"][(id % 7 % 4) as usize];
    Item {
        kind,
        id,
        name: format!(
            "{firm} {} {id}",
            ["Steel", "Obchod", "Servis"][(id % 3) as usize]
        ),
        subtitle: format!("IČO {id:08}"),
        emails: vec![format!("kontakt{id}@firma{}.cz", id % 50)],
        company_id: (kind != ItemKind::Company).then_some(id % 40 * 4),
        open: id % 5 != 0,
        updated_at: Some(1_700_000_000_000 + id),
        security_level: (id % 6 == 0).then_some(id % 3),
    }
}

/// Items written in batches a few milliseconds apart, like an import: only the last batch
/// shares the latest write time.
async fn stored_items(store: &dyn Store) {
    for batch in 0..BATCHES {
        let items: Vec<Item> = (batch * PER_BATCH + 1..=(batch + 1) * PER_BATCH)
            .map(item)
            .collect();
        store.upsert_items(&items, None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What the pickers show for a spread of queries.
fn answers(cache: &ItemCache) -> Vec<Vec<ItemView>> {
    let index = cache.index();
    let mut out = Vec::new();
    for kind in ItemKind::ALL {
        for text in [
            "vit",
            "nova hut",
            "kun zlut",
            "steel 1",
            "servis",
            "",
            "alfa beta 23",
        ] {
            for (company_id, levels) in [(None, None), (Some(8), Some(&[1][..]))] {
                out.push(index.lookup(&Lookup {
                    kind,
                    text,
                    company_id,
                    open_only: company_id.is_some(),
                    limit: 50,
                    recent: &[12, 7, 2400],
                    levels,
                }));
            }
        }
    }
    out.push(index.with_email("kontakt77@firma27.cz"));
    out.push(
        index
            .companies_with_domain("firma3.cz")
            .into_iter()
            .filter_map(|id| index.get(ItemKind::Company, id))
            .collect(),
    );
    out
}

async fn saved_cache(store: &dyn Store, path: &Path) -> ItemCache {
    let cache = ItemCache::with_snapshot(path.to_owned());
    cache.rebuild(store).await.unwrap();
    cache.snapshot_saved().await;
    assert!(path.exists(), "the build saved a snapshot");
    cache
}

#[tokio::test]
async fn a_restart_loads_the_snapshot_and_answers_lookups_exactly_as_before_on_every_backend() {
    for db in all_backends().await {
        let store = store::connect_and_migrate(&db.url, 2).await.unwrap();
        stored_items(store.as_ref()).await;
        let path = db.dir.path().join(snapshot::FILE_NAME);
        let before = saved_cache(store.as_ref(), &path).await;

        let after = ItemCache::with_snapshot(path.clone());
        let loaded = after.load(store.as_ref()).await.unwrap();
        assert_eq!(
            loaded,
            Loaded::Snapshot {
                caught_up: 0,
                removed: 0
            },
            "{}: the snapshot is used and nothing is read again as a change",
            db.backend
        );
        assert_eq!(after.index().stats().overlay, 0, "{}", db.backend);
        assert_eq!(
            after.index().stats().base,
            (BATCHES * PER_BATCH) as usize,
            "{}",
            db.backend
        );
        assert!(
            !answers(&before)[0].is_empty(),
            "the queries find something"
        );
        assert_eq!(answers(&after), answers(&before), "{}", db.backend);
    }
}

#[tokio::test]
async fn rows_written_after_the_snapshot_are_caught_up_at_start_on_every_backend() {
    for db in all_backends().await {
        let store = store::connect_and_migrate(&db.url, 2).await.unwrap();
        stored_items(store.as_ref()).await;
        let path = db.dir.path().join(snapshot::FILE_NAME);
        let before = saved_cache(store.as_ref(), &path).await;

        tokio::time::sleep(Duration::from_millis(5)).await;
        // While it runs: one of the first batch renamed, a new one, one of the last removed.
        let renamed = Item {
            name: "Přejmenovaná Firma".into(),
            ..item(4)
        };
        let new = Item {
            name: "Úplně Nová Firma".into(),
            ..item(100_000)
        };
        before
            .upsert(store.as_ref(), vec![renamed, new])
            .await
            .unwrap();
        let last = BATCHES * PER_BATCH;
        before
            .delete(store.as_ref(), &[(item(last).kind, last)])
            .await
            .unwrap();

        let cache = ItemCache::with_snapshot(path.clone());
        let loaded = cache.load(store.as_ref()).await.unwrap();
        assert_eq!(
            loaded,
            Loaded::Snapshot {
                caught_up: 2,
                removed: 1
            },
            "{}",
            db.backend
        );
        let find = |text: &str| {
            cache.index().lookup(&Lookup {
                kind: ItemKind::Company,
                text,
                company_id: None,
                open_only: false,
                limit: 5,
                recent: &[],
                levels: None,
            })
        };
        assert_eq!(find("prejmenovana")[0].id, 4, "{}", db.backend);
        assert_eq!(find("uplne nova")[0].id, 100_000, "{}", db.backend);
        assert!(
            find(&item(4).name).iter().all(|v| v.id != 4),
            "{}: the old name is gone",
            db.backend
        );
        assert!(
            cache.index().get(item(last).kind, last).is_none(),
            "{}",
            db.backend
        );

        assert_eq!(answers(&cache), answers(&before), "{}", db.backend);
    }
}

#[tokio::test]
async fn a_row_removed_before_the_snapshots_last_write_makes_the_start_read_the_database() {
    for db in all_backends().await {
        let store = store::connect_and_migrate(&db.url, 2).await.unwrap();
        stored_items(store.as_ref()).await;
        let path = db.dir.path().join(snapshot::FILE_NAME);
        saved_cache(store.as_ref(), &path).await;
        store.delete_items(&[(item(5).kind, 5)]).await.unwrap();

        let cache = ItemCache::with_snapshot(path.clone());
        let loaded = cache.load(store.as_ref()).await.unwrap();
        assert!(
            matches!(loaded, Loaded::Built(_)),
            "{}: {loaded:?}",
            db.backend
        );
        assert!(
            cache.index().get(item(5).kind, 5).is_none(),
            "{}",
            db.backend
        );
        assert_eq!(
            cache.index().stats().base,
            (BATCHES * PER_BATCH - 1) as usize,
            "{}",
            db.backend
        );
    }
}

#[tokio::test]
async fn a_truncated_or_foreign_snapshot_is_ignored_and_the_index_built_from_the_database() {
    for db in all_backends().await {
        let store = store::connect_and_migrate(&db.url, 2).await.unwrap();
        stored_items(store.as_ref()).await;
        let path = db.dir.path().join(snapshot::FILE_NAME);
        let before = saved_cache(store.as_ref(), &path).await;
        let good = std::fs::read(&path).unwrap();

        let mut other_format = good.clone();
        other_format[8] ^= 0x7f;
        for (what, bytes) in [
            ("truncated", good[..good.len() * 2 / 3].to_vec()),
            ("another format", other_format),
            ("not a snapshot", b"hello".to_vec()),
        ] {
            std::fs::write(&path, bytes).unwrap();
            let cache = ItemCache::with_snapshot(path.clone());
            let loaded = cache.load(store.as_ref()).await.unwrap();
            assert!(
                matches!(loaded, Loaded::Built(_)),
                "{}, {what}: {loaded:?}",
                db.backend
            );
            assert_eq!(answers(&cache), answers(&before), "{}, {what}", db.backend);
            // The build saved a good snapshot again.
            cache.snapshot_saved().await;
            let again = ItemCache::with_snapshot(path.clone());
            let loaded = again.load(store.as_ref()).await.unwrap();
            assert!(
                matches!(loaded, Loaded::Snapshot { .. }),
                "{}, {what}: {loaded:?}",
                db.backend
            );
        }
    }
}
