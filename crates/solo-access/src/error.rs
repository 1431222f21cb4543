use crate::password::PasswordRejected;

/// What can go wrong in access operations. Messages are safe to show to
/// the caller: they never carry a secret.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("password: {0}")]
    Password(#[from] PasswordRejected),
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("the code is wrong or was already used")]
    WrongCode,
    #[error("database error: {0}")]
    Db(#[from] solo_store::sqlx::Error),
    #[error("audit: {0}")]
    Audit(String),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("the system's random source failed: {0}")]
    Random(String),
    #[error("stored access data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Internal(String),
}

impl AccessError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AccessError::Invalid {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        AccessError::NotFound { what: what.into() }
    }
}
