//! A throw-away database on the machine's PostgreSQL (127.0.0.1:5432, trust auth), dropped at
//! the end of the test. `OMEN_TEST_POSTGRES` overrides the server URL.

use sqlx::Connection as _;

/// The server's maintenance database URL.
pub fn server_url() -> String {
    std::env::var("OMEN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database created for one test.
pub struct TempDatabase {
    /// Its name.
    pub name: String,
    /// URL to connect to it.
    pub url: String,
}

impl TempDatabase {
    /// Creates an empty database with a unique name.
    pub async fn create() -> Self {
        let server = server_url();
        let name = format!("omen_test_{}_{}", std::process::id(), crate::free_port());
        let mut conn = sqlx::PgConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {server} is needed for this test: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let server = server_url();
        let name = self.name.clone();
        // Drop on a separate thread with its own runtime: the test's runtime may be gone.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&server).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}
