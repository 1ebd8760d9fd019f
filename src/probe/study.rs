//! One network's probe from start to report: which layers to tap, the run with a progress bar,
//! and the report on disk. `ddr-engine probe` and `reproduce ddr` both call [`probe_network`].

use super::report::{self, Subject};
use super::run::{probe, ProbeResult, ProbeSettings};
use crate::nn::models::SrNet;
use crate::nn::Params;
use crate::Result;
use image::RgbImage;
use std::path::Path;
use std::time::Instant;

/// Every quarter of the depth: RB4, RB8, RB12 and RB16 of 16 blocks, as the DDR paper's figures.
pub const EVERY_QUARTER: [usize; 4] = [1, 2, 3, 4];

/// The first tap (the first convolution) and the residual blocks at the given quarters of the
/// network's depth (4 = the last block), without repeats when the network is shallow.
pub fn layers_at_quarters(taps: &[String], quarters: &[usize]) -> Vec<String> {
    let blocks: Vec<&String> = taps.iter().filter(|t| t.starts_with("rb")).collect();
    let mut layers = vec![taps[0].clone()];
    if !blocks.is_empty() {
        for &q in quarters {
            let i = (blocks.len() * q / 4).max(1) - 1;
            if !layers.contains(blocks[i]) {
                layers.push(blocks[i].clone());
            }
        }
    }
    layers
}

/// Where a probe's report goes and what it says about the network.
pub struct ReportTo<'a> {
    pub dir: &'a Path,
    pub subject: Subject,
    /// Also write the (large) feature matrices as .npy.
    pub npy_features: bool,
}

/// Probes a trained network at `st.layers` with a progress bar and writes its report. Returns the
/// result and the seconds it took.
pub fn probe_network(
    net: &mut dyn SrNet,
    p: &mut Params,
    photos: &[RgbImage],
    st: &ProbeSettings,
    to: &ReportTo,
) -> Result<(ProbeResult, f64)> {
    let total = st.layers.len() * (1 + st.intra_groups.len()) * st.runs;
    let pb = indicatif::ProgressBar::new(total as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} t-SNE runs [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap(),
    );
    let t0 = Instant::now();
    let res = probe(net, p, photos, st, &|| pb.inc(1))?;
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    report::write(to.dir, &to.subject, st, &res, secs, to.npy_features)?;
    Ok((res, secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::models::msrresnet::MsrResNet;

    #[test]
    fn quarters_of_the_depth() {
        let taps = |nb| MsrResNet::tap_names_of(nb, 1);
        assert_eq!(layers_at_quarters(&taps(16), &EVERY_QUARTER), ["conv1", "rb4", "rb8", "rb12", "rb16"]);
        assert_eq!(layers_at_quarters(&taps(16), &[1, 2, 4]), ["conv1", "rb4", "rb8", "rb16"]);
        assert_eq!(layers_at_quarters(&taps(4), &[1, 2, 4]), ["conv1", "rb1", "rb2", "rb4"]);
        assert_eq!(layers_at_quarters(&taps(2), &EVERY_QUARTER), ["conv1", "rb1", "rb2"]);
        assert_eq!(layers_at_quarters(&["conv1".to_string()], &EVERY_QUARTER), ["conv1"]);
    }
}
