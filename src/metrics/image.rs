//! Image quality as SR papers report it (BasicSR's conventions): PSNR on 8-bit images, a border
//! of `crop` pixels left out, on RGB or on the Y channel of MATLAB's rgb2ycbcr.

use crate::data::Image;

/// MATLAB's Y of BT.601 for RGB in [0, 1], on the 0-255 scale: 16 + 65.481 R + 128.553 G + 24.966 B.
fn luma(r: f64, g: f64, b: f64) -> f64 {
    16.0 + 65.481 * r + 128.553 * g + 24.966 * b
}

/// PSNR in dB between two images of the same shape, both rounded to 8 bits first, ignoring
/// `crop` pixels at each border; on the Y channel if `y_only`. Identical images give infinity.
pub fn psnr(a: &Image, b: &Image, crop: usize, y_only: bool) -> f64 {
    assert_eq!((a.c, a.h, a.w), (b.c, b.h, b.w), "psnr: shapes differ");
    let q = |v: f32| crate::data::quantize(v) as f64;
    let (h, w) = (a.h, a.w);
    let plane = h * w;
    let mut sum = 0f64;
    let mut n = 0usize;
    for y in crop..h.saturating_sub(crop) {
        for x in crop..w.saturating_sub(crop) {
            let i = y * w + x;
            if y_only && a.c == 3 {
                let ya = luma(
                    q(a.data[i]) / 255.0,
                    q(a.data[plane + i]) / 255.0,
                    q(a.data[2 * plane + i]) / 255.0,
                );
                let yb = luma(
                    q(b.data[i]) / 255.0,
                    q(b.data[plane + i]) / 255.0,
                    q(b.data[2 * plane + i]) / 255.0,
                );
                sum += (ya - yb).powi(2);
                n += 1;
            } else {
                for c in 0..a.c {
                    sum += (q(a.data[c * plane + i]) - q(b.data[c * plane + i])).powi(2);
                    n += 1;
                }
            }
        }
    }
    let mse = sum / n.max(1) as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// BT.601 luma of an RGB image in [0, 1] (values clipped to [0, 1] first).
fn luma_plane(img: &Image) -> Vec<f32> {
    let plane = img.h * img.w;
    (0..plane)
        .map(|i| {
            let c = |k: usize| img.data[k * plane + i].clamp(0.0, 1.0);
            0.299 * c(0) + 0.587 * c(1) + 0.114 * c(2)
        })
        .collect()
}

/// Gradient magnitude of the luma by central differences (edges replicated).
pub fn gradient_map(img: &Image) -> Vec<f32> {
    let (h, w) = (img.h, img.w);
    let y = luma_plane(img);
    let at = |r: usize, c: usize| y[r * w + c];
    (0..h * w)
        .map(|i| {
            let (r, c) = (i / w, i % w);
            let gx = (at(r, (c + 1).min(w - 1)) - at(r, c.saturating_sub(1))) * 0.5;
            let gy = (at((r + 1).min(h - 1), c) - at(r.saturating_sub(1), c)) * 0.5;
            (gx * gx + gy * gy).sqrt()
        })
        .collect()
}

/// Sharpness, the one definition the engine uses: the mean of [`gradient_map`] (gradient
/// magnitude of the BT.601 luma on [0, 1], central differences) over the pixels at least `crop`
/// from the border. More means more high-frequency energy: GAN-trained SR outputs carry more of
/// it than MSE-trained ones, HR images more than both. It is FAIG's measure (its masking and
/// modulation tables are computed on this gradient map), so the DDR sharpness table and FAIG's
/// modulation table speak of the same quantity.
pub fn mean_gradient(img: &Image, crop: usize) -> f64 {
    let (h, w) = (img.h, img.w);
    let g = gradient_map(img);
    let (mut sum, mut n) = (0f64, 0usize);
    for r in crop..h.saturating_sub(crop) {
        for c in crop..w.saturating_sub(crop) {
            sum += g[r * w + c] as f64;
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

/// 1000 x the mean squared difference of two images' gradient maps (FAIG's measure of how much
/// masking changed what the network restores).
pub fn gradient_map_mse_x1000(a: &Image, b: &Image) -> f64 {
    let (ga, gb) = (gradient_map(a), gradient_map(b));
    1000.0 * ga.iter().zip(&gb).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>() / ga.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_gradient_of_flat_and_ramp_images() {
        let flat = Image::new(3, 6, 7, vec![0.5; 3 * 42]).unwrap();
        assert_eq!(mean_gradient(&flat, 0), 0.0);
        // A grey ramp rising 10/255 per column: the luma (weights summing to 1) rises as much, so
        // the central difference is 10/255 inside and half that in the replicated edge columns.
        let ramp: Vec<f32> =
            (0..3).flat_map(|_| (0..6).flat_map(|_| (0..7).map(|x| x as f32 * 10.0 / 255.0))).collect();
        let ramp = Image::new(3, 6, 7, ramp).unwrap();
        let inside = mean_gradient(&ramp, 1);
        assert!((inside - 10.0 / 255.0).abs() < 1e-6, "{inside}");
        let all = mean_gradient(&ramp, 0);
        assert!((all - (5.0 * 10.0 + 2.0 * 5.0) / 7.0 / 255.0).abs() < 1e-6, "{all}");
        // Without a border it is the plain mean of the gradient map, summed in pixel order.
        let map = gradient_map(&ramp);
        assert_eq!(all, map.iter().map(|&g| g as f64).sum::<f64>() / map.len() as f64);
    }

    #[test]
    fn psnr_of_a_known_error() {
        let a = Image::new(1, 4, 4, vec![0.0; 16]).unwrap();
        let mut b = a.clone();
        b.data.iter_mut().for_each(|v| *v = 10.0 / 255.0);
        // mse = 100 -> 10 log10(65025 / 100) = 28.1308...
        assert!((psnr(&a, &b, 0, false) - 28.130803608679106).abs() < 1e-9);
        assert!(psnr(&a, &a, 1, false).is_infinite());
    }

    #[test]
    fn luma_of_white_and_black_matches_matlab() {
        assert!((luma(1.0, 1.0, 1.0) - 235.0).abs() < 1e-9);
        assert_eq!(luma(0.0, 0.0, 0.0), 16.0);
    }
}
