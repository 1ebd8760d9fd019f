//! Filters as FAIG counts them: every kernel slice `W[out, in, :, :]` of every conv weight, in
//! state-dict order, row-major over (out, in) within a weight.

use crate::nn::params::ParamSpec;
use crate::Result;
use anyhow::ensure;

/// One conv weight's filters within the flat parameter buffer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Layer {
    pub name: String,
    /// Offset of the weight in the flat buffer.
    pub offset: usize,
    pub c_out: usize,
    pub c_in: usize,
    /// Elements per kernel slice (k * k).
    pub kernel: usize,
    /// Index of this layer's first filter in the global order.
    pub first: usize,
}

/// The global filter numbering of a network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterIndex {
    pub layers: Vec<Layer>,
    pub total: usize,
}

impl FilterIndex {
    /// Every rank-4 weight of `specs` (conv weights, OIHW), in order.
    pub fn new(specs: &[ParamSpec]) -> FilterIndex {
        let mut layers = Vec::new();
        let mut first = 0;
        for s in specs.iter().filter(|s| s.shape.len() == 4) {
            let (c_out, c_in, kernel) = (s.shape[0], s.shape[1], s.shape[2] * s.shape[3]);
            layers.push(Layer { name: s.name.clone(), offset: s.offset, c_out, c_in, kernel, first });
            first += c_out * c_in;
        }
        FilterIndex { layers, total: first }
    }

    /// The flat-buffer range of filter `f`.
    pub fn range(&self, f: usize) -> std::ops::Range<usize> {
        let l = self.layer_of(f);
        let start = l.offset + (f - l.first) * l.kernel;
        start..start + l.kernel
    }

    /// The layer filter `f` belongs to.
    pub fn layer_of(&self, f: usize) -> &Layer {
        let i = self.layers.partition_point(|l| l.first <= f) - 1;
        &self.layers[i]
    }

    /// Per filter, the sum over its kernel slice of |values|.
    pub fn sum_abs(&self, values: &[f32]) -> Vec<f64> {
        (0..self.total).map(|f| values[self.range(f)].iter().map(|v| v.abs() as f64).sum()).collect()
    }

    /// FAIG's score of each filter: sum over the slice of |(theta - theta_bar) * mean gradient|.
    pub fn scores(&self, delta: &[f32], mean_grad: &[f32]) -> Vec<f64> {
        (0..self.total)
            .map(|f| self.range(f).map(|i| (delta[i] as f64 * mean_grad[i] as f64).abs()).sum())
            .collect()
    }

    /// `target` with the kernel slices of `filters` replaced by
    /// `lambda * target + (1 - lambda) * baseline` (lambda 0: the baseline's filters, FAIG's
    /// masking; other values: its modulation). Biases and other filters stay the target's.
    pub fn blend(
        &self,
        target: &[f32],
        baseline: &[f32],
        filters: &[usize],
        lambda: f32,
    ) -> Result<Vec<f32>> {
        ensure!(target.len() == baseline.len(), "baseline and target have different sizes");
        let mut out = target.to_vec();
        for &f in filters {
            ensure!(f < self.total, "filter {f} does not exist ({} filters)", self.total);
            for i in self.range(f) {
                out[i] = lambda * target[i] + (1.0 - lambda) * baseline[i];
            }
        }
        Ok(out)
    }
}

/// Filter indices sorted by descending score (ties: lower index first, so rankings are stable).
pub fn rank(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx
}

/// The first `percent` % of a ranking (at least one filter).
pub fn top(ranking: &[usize], percent: f64) -> &[usize] {
    let n = ((ranking.len() as f64 * percent / 100.0).round() as usize).clamp(1, ranking.len());
    &ranking[..n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::models::Arch;

    #[test]
    fn filters_follow_state_dict_order() {
        let (_, pb) = Arch::Msrresnet { nf: 4, nb: 1, scale: 2, global_residual: true }.declare().unwrap();
        let (specs, _) = pb.specs();
        let idx = FilterIndex::new(&specs);
        let names: Vec<&str> = idx.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "conv_first.weight",
                "body.0.conv1.weight",
                "body.0.conv2.weight",
                "upconv1.weight",
                "conv_hr.weight",
                "conv_last.weight"
            ]
        );
        assert_eq!(idx.total, 4 * 3 + 16 + 16 + 16 * 4 + 16 + 3 * 4);
        // Filter 5 of conv_first: out 1, in 2 -> elements (1*3 + 2)*9 ..
        assert_eq!(idx.range(5), (5 * 9)..(6 * 9));
        assert_eq!(idx.layer_of(12).name, "body.0.conv1.weight");
        assert_eq!(idx.range(12).start, specs[2].offset);
    }

    #[test]
    fn blending_touches_only_the_chosen_slices() {
        let (_, pb) = Arch::Msrresnet { nf: 4, nb: 1, scale: 2, global_residual: true }.declare().unwrap();
        let (specs, _) = pb.specs();
        let idx = FilterIndex::new(&specs);
        let n: usize = specs.iter().map(|s| s.len()).sum();
        let (t, b) = (vec![1.0f32; n], vec![0.0f32; n]);
        let m = idx.blend(&t, &b, &[0, 13], 0.0).unwrap();
        assert_eq!(m.iter().filter(|&&v| v == 0.0).count(), 18);
        assert!(m[idx.range(13)].iter().all(|&v| v == 0.0));
        let h = idx.blend(&t, &b, &[13], 1.5).unwrap();
        assert!(h[idx.range(13)].iter().all(|&v| v == 1.5));
        assert_eq!(rank(&[0.5, 2.0, 2.0, 1.0]), vec![1, 2, 3, 0]);
        assert_eq!(top(&[7, 8, 9], 1.0), &[7]);
    }
}
