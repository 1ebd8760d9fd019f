//! Deep features of a trained network on a list of LR images: for each requested tap, one row
//! per image holding the flattened feature map (C x H x W), computed in batches.

use crate::data::Image;
use crate::nn::models::SrNet;
use crate::nn::Params;
use crate::tensor::Tensor;
use crate::Result;
use anyhow::ensure;

/// A matrix of features: `rows` images x `dim` values, row-major, with the map's shape.
pub struct FeatureMatrix {
    pub layer: String,
    pub rows: usize,
    pub dim: usize,
    /// (C, H, W) of one image's feature map.
    pub map_shape: (usize, usize, usize),
    pub data: Vec<f32>,
}

/// Features of `images` (all the same size) at `taps`, `batch` images at a time.
pub fn extract(
    net: &mut dyn SrNet,
    p: &mut Params,
    images: &[&Image],
    taps: &[String],
    batch: usize,
) -> Result<Vec<FeatureMatrix>> {
    let dev = p.device();
    ensure!(!images.is_empty(), "no images to extract features from");
    let (h, w) = (images[0].h, images[0].w);
    ensure!(
        images.iter().all(|i| i.h == h && i.w == w && i.c == 3),
        "feature extraction needs RGB images of one size"
    );
    let mut out: Vec<FeatureMatrix> = taps
        .iter()
        .map(|t| FeatureMatrix { layer: t.clone(), rows: 0, dim: 0, map_shape: (0, 0, 0), data: Vec::new() })
        .collect();
    for chunk in images.chunks(batch.max(1)) {
        let mut x = Vec::with_capacity(chunk.len() * 3 * h * w);
        chunk.iter().for_each(|i| x.extend_from_slice(&i.data));
        let x = Tensor::from_vec(x, &[chunk.len(), 3, h, w], &dev)?;
        for (m, f) in out.iter_mut().zip(net.features(p, &x, taps)?) {
            let (n, c, fh, fw) = f.dims4()?;
            m.map_shape = (c, fh, fw);
            m.dim = c * fh * fw;
            m.rows += n;
            m.data.extend(f.to_vec()?);
        }
    }
    Ok(out)
}
