//! A neighbourhood score of labelled points: leave-one-out k-nearest-neighbour accuracy.
//!
//! CHI compares class centroids, so it misses classes that are apart but share a centroid (one
//! noise level as a core, a stronger one as a ring around it). k-NN accuracy asks only whether a
//! point's nearest neighbours carry its label, which sees such shapes. Its chance level depends on
//! the class sizes and the geometry, so the reports measure it with the same label-permutation
//! null as CHI (see [`super::permutation`]).

use crate::labels::encode_labels;
use crate::Result;
use anyhow::ensure;
use rayon::prelude::*;

/// Neighbours per point in the reports.
pub const KNN_K: usize = 10;

/// For every point, its `k` nearest other points (Euclidean distance in f64; equal distances
/// in index order), row by row: `n * k` indices.
pub fn nearest_neighbours<T: Copy + Into<f64> + Sync>(
    x: &[T],
    n: usize,
    d: usize,
    k: usize,
) -> Result<Vec<usize>> {
    ensure!(x.len() == n * d, "k-NN: {} values do not make {n} points of {d} dims", x.len());
    ensure!(k >= 1 && k < n, "k-NN needs 1 <= k < N (k = {k}, N = {n})");
    let mut out = vec![0usize; n * k];
    out.par_chunks_mut(k).enumerate().for_each(|(i, row)| {
        let xi = &x[i * d..(i + 1) * d];
        let mut dist: Vec<(f64, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| {
                let s =
                    xi.iter().zip(&x[j * d..(j + 1) * d]).map(|(&a, &b)| (a.into() - b.into()).powi(2)).sum();
                (s, j)
            })
            .collect();
        let order = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        dist.select_nth_unstable_by(k - 1, order);
        dist[..k].sort_by(order);
        for (o, (_, j)) in row.iter_mut().zip(&dist[..k]) {
            *o = *j;
        }
    });
    Ok(out)
}

/// Fraction of points whose `k` neighbours (from [`nearest_neighbours`]) vote for the point's
/// own label; a tied vote goes to the tied label of the nearest neighbour.
pub fn knn_accuracy(neighbours: &[usize], k: usize, labels: &[i64]) -> f64 {
    let (codes, distinct) = encode_labels(labels);
    let mut votes = vec![0usize; distinct.len()];
    let mut hits = 0usize;
    for (i, row) in neighbours.chunks(k).enumerate() {
        votes.iter_mut().for_each(|v| *v = 0);
        for &j in row {
            votes[codes[j]] += 1;
        }
        let top = *votes.iter().max().unwrap_or(&0);
        let winner = row.iter().map(|&j| codes[j]).find(|&c| votes[c] == top);
        hits += usize::from(winner == Some(codes[i]));
    }
    hits as f64 / labels.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_on_a_line_in_distance_then_index_order() {
        let x = [0.0f64, 1.0, 3.0, 6.0, 2.0];
        let nb = nearest_neighbours(&x, 5, 1, 2).unwrap();
        // 0: 1 (1), 4 (2); 1: 0 and 4 both at 1 -> index order; 2: 4 (1), 1 (2); 3: 2 (3), 4 (4);
        // 4: 1 and 2 both at 1.
        assert_eq!(nb, [1, 4, 0, 4, 4, 1, 2, 4, 1, 2]);
        assert!(nearest_neighbours(&x, 5, 1, 5).is_err());
    }

    #[test]
    fn a_ring_around_a_core_is_seen_by_knn_and_missed_by_chi() {
        // Class 0: 40 points near the origin; class 1: 40 points on a circle of radius 5.
        let mut rng = crate::Rng::new(2);
        let mut x = Vec::new();
        let mut labels = Vec::new();
        for i in 0..80 {
            use std::f64::consts::TAU;
            let (r, t) = if i < 40 {
                (0.5 * rng.uniform(), TAU * rng.uniform())
            } else {
                (5.0, TAU * i as f64 / 40.0)
            };
            x.extend([r * t.cos(), r * t.sin()]);
            labels.push(i64::from(i >= 40));
        }
        let nb = nearest_neighbours(&x, 80, 2, KNN_K).unwrap();
        assert_eq!(knn_accuracy(&nb, KNN_K, &labels), 1.0);
        let chi = crate::metrics::cluster_scores(&x, 80, 2, &labels).unwrap().chi;
        assert!(chi < 5.0, "the centroids nearly coincide: CHI {chi}");
        // Labels unrelated to the shape: about half right.
        let alternating: Vec<i64> = (0..80).map(|i| i % 2).collect();
        assert!(knn_accuracy(&nb, KNN_K, &alternating) < 0.7);
    }

    #[test]
    fn a_tie_goes_to_the_nearest_neighbours_label() {
        // Point 0's two neighbours: 1 (label 5, nearer) and 2 (label 7).
        let nb = [1, 2, 0, 2, 1, 0];
        assert_eq!(knn_accuracy(&nb, 2, &[5, 5, 7]), 2.0 / 3.0);
        assert_eq!(knn_accuracy(&nb, 2, &[5, 7, 7]), 1.0 / 3.0);
    }
}
