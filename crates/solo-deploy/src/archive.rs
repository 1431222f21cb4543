//! The release archive: a gzipped tar of the files a release keeps, with
//! `.solo-release.json` (the [`Manifest`]) first. The CLI packs it where
//! the code is; the node checks it and unpacks it into an immutable
//! release directory.

use std::io::{Read, Write};
use std::path::{Component, Path};

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::DeployError;

pub const MANIFEST: &str = ".solo-release.json";

/// What the archive says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Manifest {
    pub app: String,
    /// The commit it was built from (`unknown` outside git).
    pub commit: String,
    pub committed_at: Option<DateTime<Utc>>,
    /// Subjects of the commits since the release before (they choose the
    /// version: `BREAKING` → major, `feat` → minor, else patch).
    #[serde(default)]
    pub messages: Vec<String>,
    /// Steps the packer ran (preflight, build, pack), for the record.
    #[serde(default)]
    pub steps: Vec<crate::Step>,
}

/// Packs `paths` (relative to `root`; directories whole) and the manifest.
pub fn pack(
    root: &Path,
    paths: &[String],
    manifest: &Manifest,
    out: impl Write,
) -> Result<(), DeployError> {
    let encoder = GzEncoder::new(out, Compression::fast());
    let mut tar = tar::Builder::new(encoder);
    tar.follow_symlinks(false);
    let json = serde_json::to_vec_pretty(manifest)
        .map_err(|e| DeployError::Io(format!("cannot write the manifest: {e}")))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(Utc::now().timestamp().max(0) as u64);
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, json.as_slice())
        .map_err(|e| DeployError::io("cannot write the archive", e))?;
    for path in paths {
        let full = root.join(path);
        let meta = std::fs::symlink_metadata(&full)
            .map_err(|e| DeployError::io(format!("cannot read {path}"), e))?;
        let added = if meta.is_dir() {
            tar.append_dir_all(path, &full)
        } else {
            tar.append_path_with_name(&full, path)
        };
        added.map_err(|e| DeployError::io(format!("cannot add {path} to the archive"), e))?;
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| DeployError::io("cannot finish the archive", e))?;
    Ok(())
}

/// Unpacks into `dest` (which must exist and be empty), refusing entries
/// that would land outside it, links that point outside it, and more than
/// `max_bytes` unpacked. Returns the manifest.
pub fn unpack(archive: impl Read, dest: &Path, max_bytes: u64) -> Result<Manifest, DeployError> {
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    tar.set_preserve_permissions(true);
    tar.set_overwrite(false);
    let mut total = 0_u64;
    let mut manifest = None;
    let entries = tar
        .entries()
        .map_err(|e| DeployError::invalid("archive", format!("not a gzipped tar: {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| DeployError::invalid("archive", format!("a broken entry: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| DeployError::invalid("archive", format!("a bad path: {e}")))?
            .into_owned();
        if !is_inside(&path) {
            return Err(DeployError::invalid(
                "archive",
                format!("{} would land outside the release", path.display()),
            ));
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name().ok().flatten().map(|t| t.into_owned());
            let parent = path.parent().unwrap_or(Path::new(""));
            let fine = target.is_some_and(|t| is_inside(&parent.join(t)));
            if !fine {
                return Err(DeployError::invalid(
                    "archive",
                    format!("the link {} points outside the release", path.display()),
                ));
            }
        }
        total = total.saturating_add(entry.header().size().unwrap_or(0));
        if total > max_bytes {
            return Err(DeployError::invalid(
                "archive",
                format!("it unpacks to more than {max_bytes} bytes"),
            ));
        }
        if path == Path::new(MANIFEST) {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(|e| {
                DeployError::invalid("archive", format!("unreadable manifest: {e}"))
            })?;
            manifest = Some(serde_json::from_str::<Manifest>(&text).map_err(|e| {
                DeployError::invalid("archive", format!("{MANIFEST} is not valid: {e}"))
            })?);
            continue;
        }
        let unpacked = entry.unpack_in(dest).map_err(|e| {
            DeployError::invalid("archive", format!("cannot unpack {}: {e}", path.display()))
        })?;
        if !unpacked {
            return Err(DeployError::invalid(
                "archive",
                format!("{} would land outside the release", path.display()),
            ));
        }
    }
    manifest.ok_or_else(|| DeployError::invalid("archive", format!("it has no {MANIFEST}")))
}

/// A relative path that, with `..` folded, stays at or below its start.
fn is_inside(path: &Path) -> bool {
    let mut depth = 0_i32;
    for component in path.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Makes a release directory read-only (files keep their execute bits).
pub(crate) fn freeze(dir: &Path) -> std::io::Result<()> {
    set_writable(dir, false)
}

/// Undoes [`freeze`], so the directory can be removed.
pub(crate) fn thaw(dir: &Path) -> std::io::Result<()> {
    set_writable(dir, true)
}

fn set_writable(path: &Path, writable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    let mode = if writable {
        mode | 0o200
    } else {
        mode & !0o222
    };
    if meta.is_dir() {
        if writable {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
        for entry in std::fs::read_dir(path)? {
            set_writable(&entry?.path(), writable)?;
        }
        if !writable {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    } else {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            app: "shop".into(),
            commit: "abc1234".into(),
            committed_at: None,
            messages: vec!["feat: carts".into()],
            steps: vec![],
        }
    }

    #[test]
    fn a_packed_release_unpacks_to_the_same_files_and_manifest() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("bin")).unwrap();
        std::fs::write(src.path().join("bin/app"), "#!/bin/sh\necho hi\n").unwrap();
        std::fs::write(src.path().join("README"), "hello").unwrap();
        let mut archive = Vec::new();
        pack(
            src.path(),
            &["bin".into(), "README".into()],
            &manifest(),
            &mut archive,
        )
        .unwrap();
        let dest = tempfile::tempdir().unwrap();
        let got = unpack(archive.as_slice(), dest.path(), 1 << 20).unwrap();
        assert_eq!(got, manifest());
        assert_eq!(
            std::fs::read_to_string(dest.path().join("README")).unwrap(),
            "hello"
        );
        assert!(dest.path().join("bin/app").exists());
        assert!(
            !dest.path().join(MANIFEST).exists(),
            "the manifest is not a release file"
        );
    }

    #[test]
    fn entries_escaping_the_release_and_oversized_archives_are_refused() {
        // A hand-made archive with `../evil`.
        let mut raw = Vec::new();
        {
            let mut tar = tar::Builder::new(GzEncoder::new(&mut raw, Compression::fast()));
            let mut header = tar::Header::new_gnu();
            header.set_size(4);
            header.set_mode(0o644);
            // set_path refuses `..`; write the name bytes directly.
            header.as_gnu_mut().unwrap().name[..7].copy_from_slice(b"../evil");
            header.set_cksum();
            tar.append(&header, "evil".as_bytes()).unwrap();
            tar.into_inner().unwrap().finish().unwrap();
        }
        let dest = tempfile::tempdir().unwrap();
        let error = unpack(raw.as_slice(), dest.path(), 1 << 20).unwrap_err();
        assert!(error.to_string().contains("outside the release"), "{error}");
        assert!(!dest.path().parent().unwrap().join("evil").exists());

        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("big"), vec![b'x'; 10_000]).unwrap();
        let mut archive = Vec::new();
        pack(src.path(), &["big".into()], &manifest(), &mut archive).unwrap();
        let error = unpack(archive.as_slice(), dest.path(), 5_000).unwrap_err();
        assert!(
            error.to_string().contains("more than 5000 bytes"),
            "{error}"
        );
    }

    #[test]
    fn a_frozen_release_cannot_be_written_until_thawed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("r/sub")).unwrap();
        std::fs::write(dir.path().join("r/sub/f"), "x").unwrap();
        freeze(&dir.path().join("r")).unwrap();
        let meta = std::fs::metadata(dir.path().join("r/sub/f")).unwrap();
        assert!(meta.permissions().readonly());
        thaw(&dir.path().join("r")).unwrap();
        std::fs::remove_dir_all(dir.path().join("r")).unwrap();
    }
}
