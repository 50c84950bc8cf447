//! Throw-away databases: a SQLite file in a temporary directory, or a fresh PostgreSQL database
//! `test_<uuid>` created on the server named by `TEST_DATABASE_URL` and dropped afterwards.

use server::config::DatabaseUrl;

/// A database that exists for one test.
pub struct TestDb {
    /// URL the server connects to.
    pub url: DatabaseUrl,
    /// Human name of the backend, for assertion messages.
    pub backend: &'static str,
    /// Holds the SQLite file's directory.
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A fresh SQLite database.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        Self {
            url: DatabaseUrl::new(url),
            backend: "sqlite",
            dir,
            pg: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` when `TEST_DATABASE_URL` is not set.
    pub async fn postgres() -> Option<Self> {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
        let pool = sqlx::PgPool::connect(admin.as_str())
            .await
            .expect("PostgreSQL answers");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .expect("CREATE DATABASE");
        pool.close().await;
        let admin_copy = admin.to_string();
        admin.set_path(&name);
        Some(Self {
            url: DatabaseUrl::new(admin.to_string()),
            backend: "postgres",
            dir: tempfile::tempdir().expect("a temporary directory"),
            pg: Some((admin_copy, name)),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg.take() {
            // Drop runs outside any runtime we may block; use a small one on its own thread.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(pool) = sqlx::PgPool::connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                        pool.close().await;
                    }
                });
            })
            .join();
        }
    }
}

impl TestDb {
    /// Another handle on the same database that does not drop it (for a second instance).
    pub fn shared(&self) -> Self {
        Self {
            url: self.url.clone(),
            backend: self.backend,
            dir: tempfile::tempdir().expect("a temporary directory"),
            pg: None,
        }
    }

    /// The backend of this test run: PostgreSQL when `TEST_DATABASE_URL` is set, else SQLite.
    pub async fn for_this_run() -> Self {
        match Self::postgres().await {
            Some(pg) => pg,
            None => Self::sqlite(),
        }
    }
}

/// SQLite, plus PostgreSQL when `TEST_DATABASE_URL` is set: every storage story runs on each.
pub async fn all_backends() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()];
    if let Some(pg) = TestDb::postgres().await {
        dbs.push(pg);
    }
    dbs
}
