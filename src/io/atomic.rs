//! Output files and folders that are never seen half-written.

use crate::Result;
use anyhow::Context;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// A file written so that readers see either the old file or the complete new one: the bytes go
/// to `<path>.tmp`; [`AtomicFile::commit`] flushes them to disk and renames the temporary file
/// over `path`. Dropped without a commit (an error on the way), the temporary file is removed
/// and `path` is left as it was.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(AtomicFile { path: path.to_owned(), tmp, out: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.out.as_mut().expect("an AtomicFile is used only until its commit")
    }

    /// Where the bytes go until the commit (for error messages).
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    pub fn commit(mut self) -> Result<()> {
        let out = self.out.take().expect("committed once");
        let (tmp, path) = (&self.tmp, &self.path);
        let done = (|| {
            let file = out
                .into_inner()
                .map_err(|e| e.into_error())
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            file.sync_all().with_context(|| format!("cannot flush {} to disk", tmp.display()))?;
            drop(file);
            std::fs::rename(tmp, path)
                .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
        })();
        if done.is_err() {
            let _ = std::fs::remove_file(tmp);
        }
        done
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The first of `inputs` that one of `outputs` is the same file as: writing that output would
/// destroy it. Outputs that do not exist yet cannot be. Each path is resolved once.
pub fn clobbered(outputs: impl IntoIterator<Item = PathBuf>, inputs: &[PathBuf]) -> Option<&PathBuf> {
    let resolved: std::collections::HashMap<PathBuf, &PathBuf> =
        inputs.iter().filter_map(|i| Some((std::fs::canonicalize(i).ok()?, i))).collect();
    outputs.into_iter().find_map(|o| resolved.get(&std::fs::canonicalize(o).ok()?).copied())
}

/// Writes `path` atomically (see [`AtomicFile`]) with `write`.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    write(file.writer())?;
    file.commit()
}

/// Writes 8-bit RGB as a PNG file atomically (see [`AtomicFile`]).
pub fn write_png(path: &Path, img: &image::RgbImage) -> Result<()> {
    write_atomic(path, |w| {
        img.write_to(w, image::ImageFormat::Png).with_context(|| format!("cannot write {}", path.display()))
    })
}

/// A folder of outputs replaced as a whole: files are written into a hidden folder inside
/// `target` first, and only [`StagedDir::commit`] moves them into place (`manifest.json` last,
/// so that while the manifest is the old one, the files it lists are the ones being replaced).
/// Dropped without a commit, the hidden folder is removed and `target` is left as it was.
pub struct StagedDir {
    dir: PathBuf,
    target: PathBuf,
    done: bool,
}

impl StagedDir {
    /// Stages into `target/.ddr-partial` (`target` must exist).
    pub fn new(target: &Path) -> Result<StagedDir> {
        let dir = target.join(".ddr-partial");
        // Left over by a run that was killed: nothing in it was ever moved into place.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(StagedDir { dir, target: target.to_owned(), done: false })
    }

    /// Where to write the files until the commit.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn commit(mut self) -> Result<()> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .with_context(|| format!("cannot list {}", self.dir.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        files.sort_by_key(|p| p.file_name().is_some_and(|n| n == "manifest.json"));
        for f in files {
            let to = self.target.join(f.file_name().expect("a listed file"));
            std::fs::rename(&f, &to)
                .with_context(|| format!("cannot move {} to {}", f.display(), to.display()))?;
        }
        self.done = true;
        std::fs::remove_dir(&self.dir).with_context(|| format!("cannot remove {}", self.dir.display()))
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn failed_atomic_write_keeps_the_old_file() {
        let dir = std::env::temp_dir().join(format!("ddr-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        write_atomic(&path, |w| Ok(w.write_all(b"old")?)).unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            anyhow::bail!("disk on fire")
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(!dir.join("f.bin.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn staged_dir_replaces_files_only_on_commit() {
        let dir = std::env::temp_dir().join(format!("ddr-staged-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.png"), b"old").unwrap();
        let failed = StagedDir::new(&dir).unwrap();
        std::fs::write(failed.path().join("a.png"), b"new").unwrap();
        drop(failed);
        assert_eq!(std::fs::read(dir.join("a.png")).unwrap(), b"old");
        assert!(!dir.join(".ddr-partial").exists());
        let ok = StagedDir::new(&dir).unwrap();
        std::fs::write(ok.path().join("a.png"), b"new").unwrap();
        std::fs::write(ok.path().join("manifest.json"), b"{}").unwrap();
        ok.commit().unwrap();
        assert_eq!(std::fs::read(dir.join("a.png")).unwrap(), b"new");
        assert_eq!(std::fs::read(dir.join("manifest.json")).unwrap(), b"{}");
        assert!(!dir.join(".ddr-partial").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
