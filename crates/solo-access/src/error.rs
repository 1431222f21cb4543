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
    /// The caller's mistake (bad input, a conflict, a wrong password): its
    /// message is for them. Otherwise the failure is solo's, and belongs in
    /// the log rather than in front of the caller.
    pub fn is_callers(&self) -> bool {
        matches!(
            self,
            AccessError::NotFound { .. }
                | AccessError::Conflict(_)
                | AccessError::Invalid { .. }
                | AccessError::Password(_)
                | AccessError::WrongPassword
                | AccessError::WrongCode
        )
    }

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
