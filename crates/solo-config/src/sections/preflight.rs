use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[preflight]`: what `solo preflight` (the first step of every deploy) looks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PreflightSection {
    /// `debug_patterns`: leftover-debugging patterns by file extension, added to solo's own
    /// (e.g. `{ rs = ["eprintln!(\"XXX"] }`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub debug_patterns: BTreeMap<String, Vec<String>>,
    /// `allow_file`: findings to let pass, one `path:line` or `path` per line (default
    /// `.solo-allow`, relative to solo.toml's directory).
    #[serde(deserialize_with = "super::path")]
    pub allow_file: PathBuf,
}

impl Default for PreflightSection {
    fn default() -> Self {
        Self {
            debug_patterns: BTreeMap::new(),
            allow_file: PathBuf::from(".solo-allow"),
        }
    }
}
