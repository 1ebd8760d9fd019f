//! Filter rankings on disk: `scores_<name>.npy` (one score per filter, state-dict order) and
//! `ranking_<name>.txt` (filter indices, best first), written by `faig score` and read back by
//! `faig mask` and `faig modulate`.

use super::filters::rank;
use crate::io::{npy, write_atomic};
use crate::Result;
use anyhow::{ensure, Context};
use std::path::Path;

/// The rankings of one method, one per degradation.
pub struct Rankings {
    pub method: String,
    pub blur: Vec<usize>,
    pub noise: Vec<usize>,
}

/// Writes the scores and their ranking; returns the ranking.
pub fn write(dir: &Path, name: &str, scores: &[f64]) -> Result<Vec<usize>> {
    npy::write(&dir.join(format!("scores_{name}.npy")), &[scores.len()], scores)?;
    let r = rank(scores);
    let text: String = r.iter().map(|i| format!("{i}\n")).collect();
    write_atomic(&dir.join(format!("ranking_{name}.txt")), |w| {
        Ok(std::io::Write::write_all(w, text.as_bytes())?)
    })?;
    Ok(r)
}

/// Reads a ranking of `total` filters written by [`write`].
pub fn read(dir: &Path, name: &str, total: usize) -> Result<Vec<usize>> {
    let path = dir.join(format!("ranking_{name}.txt"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (run `faig score` first)", path.display()))?;
    let r: Vec<usize> = text
        .lines()
        .map(|l| l.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("{} is not a ranking", path.display()))?;
    ensure!(
        r.len() == total && r.iter().all(|&i| i < total),
        "{} does not rank this network's {total} filters",
        path.display()
    );
    Ok(r)
}

/// Whether `faig score` also wrote the input-space IG rankings into `dir`.
pub fn has_input_ig(dir: &Path) -> bool {
    dir.join("ranking_ig_blur.txt").exists()
}
