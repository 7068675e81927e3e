//! The crate's error type.

/// What can go wrong in the webhook.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be used.
    #[error("configuration: {0}")]
    Config(String),
    /// The store (SQLite or PostgreSQL) failed.
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    /// A schema migration failed.
    #[error("store migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A template could not be rendered.
    #[error("template: {0}")]
    Template(String),
    /// Anything else that should not happen.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<minijinja::Error> for Error {
    fn from(error: minijinja::Error) -> Self {
        Self::Template(error.to_string())
    }
}
