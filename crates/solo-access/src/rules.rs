//! Route rules: for every route, the least a caller needs. The binary
//! declares the whole table in one place (`crates/solo/src/access_rules.rs`);
//! the [`Guard`](crate::guard::Guard) enforces it. A route without a rule is
//! refused to everyone (fail closed), and a test walks the router to make
//! sure none is missing.

use std::collections::HashMap;

use http::Method;

use crate::Role;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user or token, whatever the role: the caller's own
    /// account, sign-out, MFA enrolment. Also open to an admin who must
    /// still enrol MFA.
    SignedIn,
    /// This role or a higher one.
    AtLeast(Role),
}

/// One line of the table.
#[derive(Debug, Clone, Copy)]
pub struct RouteRule {
    pub method: &'static str,
    /// The route template as registered, e.g. `/api/v1/users/{id}`.
    pub path: &'static str,
    pub rule: Rule,
}

/// Shorthand for the table: `rule("GET", "/healthz", Rule::Public)`.
pub const fn rule(method: &'static str, path: &'static str, rule: Rule) -> RouteRule {
    RouteRule { method, path, rule }
}

/// The table, indexed.
#[derive(Debug, Clone, Default)]
pub struct AccessRules {
    rules: HashMap<(Method, String), Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("the access rules list {method} {path} twice")]
    Duplicate { method: String, path: String },
    #[error("the access rules name an unknown method `{0}`")]
    BadMethod(String),
}

impl AccessRules {
    pub fn new(table: &[RouteRule]) -> Result<Self, RulesError> {
        let mut rules = HashMap::with_capacity(table.len());
        for line in table {
            let method = Method::from_bytes(line.method.as_bytes())
                .map_err(|_| RulesError::BadMethod(line.method.to_owned()))?;
            if rules
                .insert((method, line.path.to_owned()), line.rule)
                .is_some()
            {
                return Err(RulesError::Duplicate {
                    method: line.method.to_owned(),
                    path: line.path.to_owned(),
                });
            }
        }
        Ok(AccessRules { rules })
    }

    /// The rule for a method on a route template. HEAD follows GET.
    pub fn rule_for(&self, method: &Method, path: &str) -> Option<Rule> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.rules.get(&(method.clone(), path.to_owned())).copied()
    }

    /// Whether any method of this route template has a rule.
    pub fn knows_path(&self, path: &str) -> bool {
        self.rules.keys().any(|(_, p)| p == path)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Method, &str, Rule)> {
        self.rules.iter().map(|((m, p), r)| (m, p.as_str(), *r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_duplicates_and_head() {
        let rules = AccessRules::new(&[
            rule("GET", "/healthz", Rule::Public),
            rule("POST", "/api/v1/users", Rule::AtLeast(Role::Admin)),
        ])
        .unwrap();
        assert_eq!(
            rules.rule_for(&Method::HEAD, "/healthz"),
            Some(Rule::Public)
        );
        assert_eq!(rules.rule_for(&Method::GET, "/api/v1/users"), None);
        let twice = AccessRules::new(&[
            rule("GET", "/x", Rule::Public),
            rule("GET", "/x", Rule::SignedIn),
        ]);
        assert!(matches!(twice, Err(RulesError::Duplicate { .. })));
    }
}
