//! Label-permutation nulls: what a score looks like when the labels carry no information about
//! the points, measured on the same points by shuffling the labels.
//!
//! The probe's test sets are paired: every set holds the same crops, degraded differently. Under
//! the null hypothesis "the features do not depend on the degradation", the versions of one crop
//! are exchangeable, so labels are shuffled *within* each crop's rows (a block), never across
//! crops; shuffling freely would compare the paired data with an unpaired null and misjudge it.
//! A score is called visible when it exceeds the null's 99th percentile.

use crate::{Result, Rng};
use anyhow::ensure;
use serde::Serialize;

/// Permutations per null in the reports: enough for a stable 99th percentile (its rank is the
/// 198th of 200), cheap next to a t-SNE run.
pub const NULL_PERMUTATIONS: usize = 200;

/// A score's permutation null, summarised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Null {
    pub permutations: usize,
    pub mean: f64,
    /// 99th percentile (nearest rank: the ceil(0.99 n)-th smallest value).
    pub p99: f64,
}

impl Null {
    /// Summarises null scores; `values` must not be empty.
    pub fn of(values: &[f64]) -> Null {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = ((0.99 * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Null { permutations: v.len(), mean: v.iter().sum::<f64>() / v.len() as f64, p99: v[rank - 1] }
    }

    /// Above the 99th percentile: the score would arise by chance less than once in 100.
    pub fn exceeded_by(&self, score: f64) -> bool {
        score > self.p99
    }
}

/// `labels` shuffled within each block: rows with the same block id exchange their labels,
/// uniformly at random (Fisher-Yates on each block's rows, blocks in order of first appearance).
pub fn permute_within_blocks(labels: &[i64], blocks: &[usize], rng: &mut Rng) -> Vec<i64> {
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut slot = std::collections::HashMap::new();
    for (row, &b) in blocks.iter().enumerate() {
        let i = *slot.entry(b).or_insert_with(|| {
            members.push(Vec::new());
            members.len() - 1
        });
        members[i].push(row);
    }
    let mut out = labels.to_vec();
    for rows in &members {
        let mut drawn: Vec<i64> = rows.iter().map(|&r| labels[r]).collect();
        rng.shuffle(&mut drawn);
        for (&r, l) in rows.iter().zip(drawn) {
            out[r] = l;
        }
    }
    out
}

/// `score` of `permutations` seeded within-block shuffles of `labels`, in order. Deterministic:
/// the k-th shuffle draws from `Rng::derive(seed, [k])`.
pub fn permutation_null(
    labels: &[i64],
    blocks: &[usize],
    permutations: usize,
    seed: u64,
    score: impl Fn(&[i64]) -> Result<f64>,
) -> Result<Vec<f64>> {
    ensure!(labels.len() == blocks.len(), "{} labels but {} block ids", labels.len(), blocks.len());
    ensure!(permutations >= 1, "a permutation null needs at least one permutation");
    (0..permutations)
        .map(|k| score(&permute_within_blocks(labels, blocks, &mut Rng::derive(seed, &[k as u64]))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::cluster_scores;

    #[test]
    fn shuffles_stay_inside_their_blocks() {
        let labels = [0, 1, 2, 0, 1, 2, 7, 8];
        let blocks = [0, 0, 0, 1, 1, 1, 2, 2];
        let mut rng = Rng::new(3);
        let mut moved = false;
        for _ in 0..20 {
            let p = permute_within_blocks(&labels, &blocks, &mut rng);
            for b in 0..3 {
                let mut got: Vec<i64> = (0..8).filter(|&r| blocks[r] == b).map(|r| p[r]).collect();
                let mut want: Vec<i64> = (0..8).filter(|&r| blocks[r] == b).map(|r| labels[r]).collect();
                got.sort_unstable();
                want.sort_unstable();
                assert_eq!(got, want, "block {b} lost or gained a label");
            }
            moved |= p[..] != labels[..];
        }
        assert!(moved, "20 shuffles never moved a label");
    }

    #[test]
    fn percentile_by_nearest_rank() {
        let v: Vec<f64> = (1..=200).rev().map(f64::from).collect();
        let n = Null::of(&v);
        assert_eq!((n.permutations, n.p99, n.mean), (200, 198.0, 100.5));
        assert!(n.exceeded_by(198.5) && !n.exceeded_by(198.0));
        assert_eq!(Null::of(&[4.0]).p99, 4.0);
    }

    /// Paired data: 30 "crops" with large content offsets, three "sets" per crop adding a small
    /// shift. The free-shuffle null of CHI sits near 1; the within-crop null knows the content
    /// is shared and sits far lower, so a small but consistent degradation shift is visible
    /// against it and would be missed against the free one.
    #[test]
    fn a_paired_design_needs_the_within_block_null() {
        let (crops, sets) = (30, 3);
        let mut rng = Rng::new(9);
        let content: Vec<f64> = (0..crops).map(|_| 50.0 * rng.normal()).collect();
        let mut x = Vec::new();
        let (mut labels, mut by_crop, mut free) = (Vec::new(), Vec::new(), Vec::new());
        for s in 0..sets {
            for (c, v) in content.iter().enumerate() {
                x.push(v + 0.5 * s as f64 + 0.3 * rng.normal());
                labels.push(s as i64);
                by_crop.push(c);
                free.push(0);
            }
        }
        let n = labels.len();
        let chi = |l: &[i64]| Ok(cluster_scores(&x, n, 1, l)?.chi);
        let observed = chi(&labels).unwrap();
        let paired = Null::of(&permutation_null(&labels, &by_crop, 200, 1, chi).unwrap());
        let unpaired = Null::of(&permutation_null(&labels, &free, 200, 1, chi).unwrap());
        assert!(paired.exceeded_by(observed), "{observed} vs paired null {paired:?}");
        assert!(!unpaired.exceeded_by(observed), "{observed} vs free null {unpaired:?}");
        assert!((0.5..2.0).contains(&unpaired.mean), "free null of an F statistic: {unpaired:?}");
        // The same seed gives the same null.
        assert_eq!(paired, Null::of(&permutation_null(&labels, &by_crop, 200, 1, chi).unwrap()));
    }
}
