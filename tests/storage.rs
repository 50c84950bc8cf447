//! Storage stories run on every configured backend: SQLite always, PostgreSQL when
//! `TEST_DATABASE_URL` is set.

use server::store::{self, NewEmployee, Role, StoreError};
use tests::all_backends;

#[tokio::test]
async fn settings_are_created_read_replaced_and_deleted_on_every_backend() {
    for db in all_backends().await {
        let store = store::connect_and_migrate(&db.url, 2).await.unwrap();
        assert_eq!(
            store.get_setting("company").await.unwrap(),
            None,
            "{}",
            db.backend
        );
        store
            .put_setting("company", r#"{"name":"Vítkovice a.s."}"#)
            .await
            .unwrap();
        store
            .put_setting("company", r#"{"name":"Vítkovice Steel a.s."}"#)
            .await
            .unwrap();
        assert_eq!(
            store.get_setting("company").await.unwrap().as_deref(),
            Some(r#"{"name":"Vítkovice Steel a.s."}"#),
            "{}",
            db.backend
        );
        store.delete_setting("company").await.unwrap();
        assert_eq!(
            store.get_setting("company").await.unwrap(),
            None,
            "{}",
            db.backend
        );
    }
}

#[tokio::test]
async fn employees_are_unique_by_login_email_ignoring_case_on_every_backend() {
    for db in all_backends().await {
        let store = store::connect_and_migrate(&db.url, 2).await.unwrap();
        let created = store
            .create_employee(NewEmployee {
                identifier: "E-001".into(),
                login_email: "Jana.Novakova@Firma.cz".into(),
                password_hash: Some("$argon2id$stub".into()),
                admin: true,
                ..NewEmployee::default()
            })
            .await
            .unwrap();
        assert_eq!(
            created.login_email, "jana.novakova@firma.cz",
            "{}",
            db.backend
        );
        assert_eq!(created.role, Role::Admin);
        assert!(created.active);

        let found = store
            .employee_by_login_email("JANA.novakova@firma.cz")
            .await
            .unwrap();
        assert_eq!(
            found.as_ref().map(|e| e.id.as_str()),
            Some(created.id.as_str())
        );

        let duplicate = store
            .create_employee(NewEmployee {
                login_email: "jana.NOVAKOVA@firma.cz".into(),
                ..NewEmployee::default()
            })
            .await;
        assert!(
            matches!(duplicate, Err(StoreError::Conflict(_))),
            "{}: {duplicate:?}",
            db.backend
        );

        store
            .set_password_hash(&created.id, "$argon2id$other")
            .await
            .unwrap();
        let reread = store.employee(&created.id).await.unwrap().unwrap();
        assert_eq!(reread.password_hash.as_deref(), Some("$argon2id$other"));
        assert_eq!(store.count_active_admins().await.unwrap(), 1);
        assert_eq!(store.list_employees().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn migrating_twice_is_harmless_on_every_backend() {
    for db in all_backends().await {
        store::connect_and_migrate(&db.url, 1).await.unwrap();
        let again = store::connect_and_migrate(&db.url, 1).await;
        assert!(again.is_ok(), "{}: {:?}", db.backend, again.err());
    }
}

fn item(kind: server::items::ItemKind, id: i64, name: &str) -> server::items::Item {
    server::items::Item {
        kind,
        id,
        name: name.into(),
        subtitle: format!("sub {id}"),
        emails: vec![format!("x{id}@firma.cz"), format!("y{id}@firma.cz")],
        company_id: (id > 1).then_some(1),
        open: id % 2 == 0,
        updated_at: Some(1_700_000_000_000 + id),
        security_level: None,
    }
}

#[tokio::test]
async fn items_round_trip_in_batches_and_stream_back_on_every_backend() {
    use futures::TryStreamExt;
    use server::items::ItemKind;
    for db in all_backends().await {
        let store = store::connect_and_migrate(&db.url, 2).await.unwrap();
        // More than one INSERT batch, with diacritics.
        let items: Vec<_> = (1..=1203)
            .map(|i| item(ItemKind::Company, i, &format!("Firma Žluťoučká {i}")))
            .collect();
        store.upsert_items(&items, Some("run-1")).await.unwrap();
        assert_eq!(
            store.count_items(ItemKind::Company).await.unwrap(),
            1203,
            "{}",
            db.backend
        );

        let mut changed = items[6].clone();
        changed.name = "Vítkovice a.s.".into();
        store
            .upsert_items(std::slice::from_ref(&changed), None)
            .await
            .unwrap();
        let read = store
            .items_by_keys(&[(ItemKind::Company, 7), (ItemKind::Person, 7)])
            .await
            .unwrap();
        assert_eq!(read, vec![changed.clone()], "{}", db.backend);

        let mut streamed: Vec<_> = store.stream_items().try_collect().await.unwrap();
        streamed.sort_by_key(|i| i.id);
        assert_eq!(streamed.len(), 1203);
        assert_eq!(streamed[6], changed);
        assert_eq!(streamed[0], items[0]);

        let deleted = store
            .delete_items(&[(ItemKind::Company, 1), (ItemKind::Company, 99_999)])
            .await;
        assert_eq!(deleted.unwrap(), 1, "{}", db.backend);
    }
}

#[tokio::test]
async fn a_sweep_removes_what_an_import_did_not_see_but_keeps_newer_changes_on_every_backend() {
    use server::items::ItemKind;
    for db in all_backends().await {
        let store = store::connect_and_migrate(&db.url, 2).await.unwrap();
        store
            .upsert_items(
                &[
                    item(ItemKind::Person, 1, "Stará"),
                    item(ItemKind::Person, 2, "Zůstane"),
                ],
                Some("run-1"),
            )
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let run2_started = server::store::now_ms();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        store
            .upsert_items(&[item(ItemKind::Person, 2, "Zůstane")], Some("run-2"))
            .await
            .unwrap();
        // A webhook adds a person while run 2 is going.
        store
            .upsert_items(&[item(ItemKind::Person, 3, "Z webhooku")], None)
            .await
            .unwrap();
        let swept = store
            .sweep_items(ItemKind::Person, "run-2", run2_started)
            .await
            .unwrap();
        assert_eq!(swept, vec![(ItemKind::Person, 1)], "{}", db.backend);
        assert_eq!(store.count_items(ItemKind::Person).await.unwrap(), 2);
    }
}

#[tokio::test]
async fn recent_picks_come_back_most_recent_first_on_every_backend() {
    use server::items::ItemKind;
    for db in all_backends().await {
        let store = store::connect_and_migrate(&db.url, 2).await.unwrap();
        for id in [5, 6, 7] {
            store
                .record_pick("emp-1", ItemKind::Company, id)
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
        store
            .record_pick("emp-1", ItemKind::Company, 5)
            .await
            .unwrap();
        store
            .record_pick("emp-2", ItemKind::Company, 9)
            .await
            .unwrap();
        let picks = store
            .recent_picks("emp-1", ItemKind::Company, 10)
            .await
            .unwrap();
        assert_eq!(picks, vec![5, 7, 6], "{}", db.backend);
    }
}

#[tokio::test]
async fn concurrent_workers_never_lease_the_same_job_and_an_expired_lease_is_taken_over() {
    for db in all_backends().await {
        // Two connections to one database stand for two server instances.
        let a = store::connect_and_migrate(&db.url, 4).await.unwrap();
        let b = store::connect(&db.url, 4).await.unwrap();
        for n in 0..40 {
            a.enqueue_job(store::NewJob {
                kind: "test".into(),
                payload: format!("{{\"n\":{n}}}"),
                entry_id: None,
                serial_key: None,
            })
            .await
            .unwrap();
        }
        let lease = |s: std::sync::Arc<dyn store::Store>, owner: String| async move {
            let mut got = Vec::new();
            while let Some(job) = s.lease_job(&owner, 60_000).await.unwrap() {
                got.push(job.id);
            }
            got
        };
        let (x, y, z) = tokio::join!(
            lease(a.clone(), "a".into()),
            lease(b.clone(), "b".into()),
            lease(a.clone(), "c".into())
        );
        let mut all: Vec<String> = x.into_iter().chain(y).chain(z).collect();
        assert_eq!(all.len(), 40, "{}: every job leased once", db.backend);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 40, "{}: no job leased twice", db.backend);

        // A lease that ran out (its worker died) is taken over; the old owner cannot finish it.
        let id = a
            .enqueue_job(store::NewJob {
                kind: "test".into(),
                payload: "{}".into(),
                entry_id: None,
                serial_key: None,
            })
            .await
            .unwrap();
        let first = a.lease_job("dead", 1).await.unwrap().unwrap();
        assert_eq!(first.id, id);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let second = b.lease_job("alive", 60_000).await.unwrap().unwrap();
        assert_eq!(second.id, id, "{}", db.backend);
        assert_eq!(second.attempts, 2);
        assert!(
            !a.complete_job(&id, "dead").await.unwrap(),
            "{}",
            db.backend
        );
        assert!(b.complete_job(&id, "alive").await.unwrap());
        assert_eq!(b.job(&id).await.unwrap().unwrap().status, "done");
        assert_eq!(a.count_jobs("queued").await.unwrap(), 40);
    }
}

#[tokio::test]
async fn jobs_sharing_a_serial_key_never_run_on_two_instances_at_once_and_a_waiting_duplicate_absorbs_a_new_one()
 {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    for db in all_backends().await {
        // Two connections to one database stand for two server instances.
        let a = store::connect_and_migrate(&db.url, 4).await.unwrap();
        let b = store::connect(&db.url, 4).await.unwrap();
        let job = |payload: String, key: &str| store::NewJob {
            kind: "test".into(),
            payload,
            entry_id: None,
            serial_key: Some(key.to_owned()),
        };
        for n in 0..30 {
            a.enqueue_job(job(format!("{{\"n\":{n}}}"), "activity:1"))
                .await
                .unwrap();
        }
        let holding = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let worker = |s: Arc<dyn store::Store>, owner: String| {
            let (holding, most, done) = (holding.clone(), most.clone(), done.clone());
            async move {
                while done.load(Ordering::SeqCst) < 30 {
                    let Some(job) = s.lease_job(&owner, 60_000).await.unwrap() else {
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                        continue;
                    };
                    let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
                    // Released before the job is finished, so a lease that follows the finish
                    // is never counted as overlapping.
                    holding.fetch_sub(1, Ordering::SeqCst);
                    assert!(s.complete_job(&job.id, &owner).await.unwrap());
                    done.fetch_add(1, Ordering::SeqCst);
                }
            }
        };
        tokio::join!(
            worker(a.clone(), "a1".into()),
            worker(a.clone(), "a2".into()),
            worker(b.clone(), "b1".into()),
            worker(b.clone(), "b2".into())
        );
        assert_eq!(done.load(Ordering::SeqCst), 30, "{}", db.backend);
        assert_eq!(
            most.load(Ordering::SeqCst),
            1,
            "{}: two jobs of one key ran at once",
            db.backend
        );

        // A duplicate of a waiting job is the same job; once it runs, a new one is added.
        let first = a.enqueue_job(job("{}".into(), "activity:2")).await.unwrap();
        let again = b.enqueue_job(job("{}".into(), "activity:2")).await.unwrap();
        assert_eq!(first, again, "{}", db.backend);
        let other = a.enqueue_job(job("{}".into(), "activity:3")).await.unwrap();
        assert_ne!(first, other, "{}", db.backend);
        let leased = a.lease_job("a", 60_000).await.unwrap().unwrap();
        assert_eq!(leased.id, first, "{}", db.backend);
        assert_eq!(leased.serial_key.as_deref(), Some("activity:2"));
        let later = b.enqueue_job(job("{}".into(), "activity:2")).await.unwrap();
        assert_ne!(
            later, first,
            "{}: a running job absorbs nothing",
            db.backend
        );
        // The later one waits for the running one; the other key's job does not.
        let next = b.lease_job("b", 60_000).await.unwrap().unwrap();
        assert_eq!(next.id, other, "{}", db.backend);
        assert_eq!(
            b.lease_job("b", 60_000).await.unwrap(),
            None,
            "{}",
            db.backend
        );
        assert!(a.complete_job(&first, "a").await.unwrap());
        let last = b.lease_job("b", 60_000).await.unwrap().unwrap();
        assert_eq!(last.id, later, "{}", db.backend);
    }
}

#[tokio::test]
async fn a_backfill_page_queues_its_jobs_with_the_cursor_and_queuing_it_again_adds_no_job() {
    for db in all_backends().await {
        let s = store::connect_and_migrate(&db.url, 4).await.unwrap();
        s.set_calendar_enabled("e1", true).await.unwrap();
        let job = |id: i64| store::NewJob {
            kind: "calendar.sync".into(),
            payload: format!("{{\"kind\":\"meeting\",\"id\":{id}}}"),
            entry_id: None,
            serial_key: Some(format!("calendar.sync:raynet:meeting:{id}")),
        };
        let page: Vec<store::NewJob> = (1..=3).map(job).collect();
        s.queue_calendar_backfill_page("e1", &page, "after-page-1")
            .await
            .unwrap();
        let cursor = |s: std::sync::Arc<dyn store::Store>| async move {
            s.calendar_employees()
                .await
                .unwrap()
                .into_iter()
                .find(|e| e.employee_id == "e1")
                .and_then(|e| e.backfill_cursor)
        };
        assert_eq!(
            cursor(s.clone()).await.as_deref(),
            Some("after-page-1"),
            "{}",
            db.backend
        );
        assert_eq!(s.count_jobs("queued").await.unwrap(), 3, "{}", db.backend);
        // A backfill resumed from an older cursor queues the page again: the waiting jobs
        // absorb it.
        s.queue_calendar_backfill_page("e1", &page, "after-page-1")
            .await
            .unwrap();
        assert_eq!(s.count_jobs("queued").await.unwrap(), 3, "{}", db.backend);
        // The next page moves the cursor on.
        s.queue_calendar_backfill_page("e1", &[job(4)], "after-page-2")
            .await
            .unwrap();
        assert_eq!(
            cursor(s.clone()).await.as_deref(),
            Some("after-page-2"),
            "{}",
            db.backend
        );
        assert_eq!(s.count_jobs("queued").await.unwrap(), 4, "{}", db.backend);
    }
}
