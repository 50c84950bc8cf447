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
