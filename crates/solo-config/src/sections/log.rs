use serde::{Deserialize, Serialize};

use crate::values::{LogFormat, LogLevel};

/// `[log]`: what solo writes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// `level`: `error`, `warn`, `info` (default), `debug` or `trace`.
    pub level: LogLevel,
    /// `format`: `auto` (default), `json` or `pretty`.
    pub format: LogFormat,
}
