use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::values::ListenAddr;

/// `[node]`: this machine's solo process.
///
/// Both keys are `None` when the file does not set them, so the caller can layer flags and
/// environment variables over the file and fall back to [`ListenAddr::DEFAULT`] and
/// [`NodeSection::DEFAULT_DATA_DIR`] last.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeSection {
    /// Where the HTTP API listens (`listen`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<ListenAddr>,
    /// Where solo keeps its state (`data_dir`), as written: relative paths are relative to the
    /// directory holding `solo.toml`, which the caller resolves.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::opt_path"
    )]
    pub data_dir: Option<PathBuf>,
}

impl NodeSection {
    /// `.solo`, next to `solo.toml`.
    pub const DEFAULT_DATA_DIR: &str = ".solo";

    /// `listen`, or `127.0.0.1:7070`.
    pub fn listen_or_default(&self) -> ListenAddr {
        self.listen.unwrap_or(ListenAddr::DEFAULT)
    }

    /// `data_dir`, or `.solo` (still relative: the caller resolves it).
    pub fn data_dir_or_default(&self) -> &Path {
        self.data_dir
            .as_deref()
            .unwrap_or(Path::new(Self::DEFAULT_DATA_DIR))
    }
}
