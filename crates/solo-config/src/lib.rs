//! `solo.toml`: the typed stack model and its parser.
//!
//! Everything in the file is parsed into types that can only hold valid values ([`Duration`],
//! [`ByteSize`], [`ListenAddr`], [`Origin`], [`DatabaseUrl`], …), inside `Deserialize`, so
//! every mistake comes back as a [`ConfigError`] pointing at the exact key or value:
//!
//! ```text
//! error: unknown key `lisen` in [node]
//!  --> solo.toml:4:1
//!   |
//! 4 | lisen = "127.0.0.1:7070"
//!   | ^^^^^
//!   = help: did you mean `listen`?
//! ```
//!
//! ```
//! let stack = solo_config::parse("version = 1\n[http]\nbody_limit = \"8MiB\"\n", "solo.toml")?;
//! assert_eq!(stack.http.body_limit.bytes(), 8 * 1024 * 1024);
//! assert_eq!(stack.node.listen, None); // not set in the file: the caller picks the default
//! # Ok::<(), solo_config::ConfigError>(())
//! ```

mod diagnose;
mod error;
mod redact;
mod references;
mod sections;
mod suggest;
mod values;
mod version;

use std::path::Path;

use serde::Deserialize;

pub use error::{ConfigError, ConfigErrorKind};
pub use sections::{
    AccessSection, AppSection, CronSection, DatabaseSection, HealthSection, HttpSection,
    JobsSection, LogSection, MissedTicks, NodeSection, PreflightSection, ProxySection,
    QueueDelivery, QueueSection, RestartSection, StackFile, SubscriptionSection, TlsFiles,
    WatchSection,
};
pub use values::{
    ByteSize, DatabaseUrl, Duration, ListenAddr, LogFormat, LogLevel, Origin, Schedule, TimeZone,
    ValueError,
};

/// The environment variable for a database URL that carries a password.
pub use values::database_url::DATABASE_URL_ENV;

/// The `solo.toml` format version this solo reads and writes.
pub const CURRENT_VERSION: u32 = 1;

/// A commented starter `solo.toml`, what `solo init` writes. It parses to
/// [`StackFile::default()`].
pub const EXAMPLE_STACK: &str = include_str!("example.solo.toml");

/// Parses a `solo.toml`.
///
/// `origin` is what error messages call the file, e.g. `solo.toml` or
/// `examples/demo/solo.toml`. The version is checked first, so a file written for a newer solo
/// says so instead of tripping over keys this solo does not know.
pub fn parse(source: &str, origin: &str) -> Result<StackFile, ConfigError> {
    let document = toml::de::DeTable::parse(source)
        .map_err(|err| diagnose::syntax_error(&err, source, origin))?;
    version::check(source, origin, &document)?;
    let stack = StackFile::deserialize(toml::de::Deserializer::from(document.clone()))
        .map_err(|err| diagnose::typed_error(&err, source, origin, document.get_ref()))?;
    references::check(&stack, source, origin, document.get_ref())?;
    Ok(stack)
}

/// Reads and parses a `solo.toml`; error messages call it by `path` as given. A file that
/// cannot be read gives a [`ConfigErrorKind::Io`] error, with no position.
pub fn load(path: &Path) -> Result<StackFile, ConfigError> {
    let origin = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|err| ConfigError::io(&origin, &err))?;
    parse(&source, &origin)
}
