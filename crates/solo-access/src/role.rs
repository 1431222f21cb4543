use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a user or token may do. Ordered: each role can do everything the
/// ones below it can.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything but secret values.
    Viewer,
    /// Also runs operations: deploy, rollback, retry or cancel jobs, trigger backups.
    Operator,
    /// Also users, tokens, secrets, applying the stack.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// The role just below this one, if any (for "403 below the rule" checks).
    pub fn below(self) -> Option<Role> {
        match self {
            Role::Viewer => None,
            Role::Operator => Some(Role::Viewer),
            Role::Admin => Some(Role::Operator),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown role `{0}`: use viewer, operator or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownRole(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        assert_eq!("Admin".parse::<Role>().unwrap(), Role::Admin);
        let error = "root".parse::<Role>().unwrap_err().to_string();
        assert!(error.contains("viewer, operator or admin"), "{error}");
        assert_eq!(Role::Admin.below(), Some(Role::Operator));
    }
}
