use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::diagnose::Note;
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
    /// directory holding `solo.toml`, which the caller resolves. Never `.`, `..` or `/`: a
    /// directory that holds `solo.toml` itself is refused (the caller checks what the text
    /// alone cannot tell, like an absolute path to that directory).
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "data_dir")]
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

/// `data_dir`: a path that does not, by its text alone, name the directory holding `solo.toml`
/// or one above it. solo makes its data directory private and git-ignores all of it, and keeps
/// its database there: that must never be the project itself.
fn data_dir<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<PathBuf>, D::Error> {
    let path = super::path(deserializer)?;
    if is_this_dir_or_above(&path) {
        return Err(serde::de::Error::custom(
            Note::new("`data_dir` is the directory that holds the stack file, or one above it")
                .help(Some(
                "solo makes its data directory private (0700) and git-ignores everything in it: \
                 give it a directory of its own, like `.solo` (the default)"
                    .to_owned(),
            )),
        ));
    }
    Ok(Some(path))
}

/// `.`, `..`, `a/../..`, `/`: paths that, after folding `..` into the names before them, name
/// no directory of their own below where they start.
fn is_this_dir_or_above(path: &Path) -> bool {
    let mut names = 0_usize;
    for component in path.components() {
        match component {
            Component::Normal(_) => names += 1,
            Component::ParentDir => names = names.saturating_sub(1),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    names == 0
}
