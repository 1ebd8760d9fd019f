//! Super-resolving whole images, optionally in overlapping tiles.
//!
//! Tiles of `tile` LR pixels are each extended by `overlap` pixels of context on every side, run
//! through the network, and only their central part is kept. With an overlap at least as large
//! as the network's receptive-field radius (MSRResNet nb 16: about 36 LR pixels), the result
//! equals a whole-image pass; smaller overlaps trade exactness at tile seams for memory.

use crate::data::Image;
use crate::nn::models::SrNet;
use crate::nn::{Params, Pass};
use crate::tensor::Tensor;
use crate::Result;
use anyhow::ensure;

/// Tiling of the LR image: tile side and context overlap, in LR pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    pub tile: usize,
    pub overlap: usize,
}

impl Tiling {
    /// Below this side a tile is mostly overhead (launches, borders) whatever the overlap.
    pub const MIN_TILE: usize = 8;

    /// Refuses tilings whose context would dwarf the tile: a tile smaller than its overlap
    /// computes more than nine times the pixels it keeps (--tile 1 with the default overlap 40
    /// computes 6561 pixels per pixel kept).
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.tile >= Self::MIN_TILE && self.tile >= self.overlap,
            "--tile {} is too small: tiles need at least {} pixels and at least --tile-overlap ({}); \
             each tile computes ({} + 2 x {})^2 pixels to keep {}^2",
            self.tile,
            Self::MIN_TILE,
            self.overlap,
            self.tile,
            self.overlap,
            self.tile
        );
        Ok(())
    }
}

fn run(net: &mut dyn SrNet, p: &mut Params, img: &Image, maps: Option<&Image>) -> Result<Image> {
    let x = Tensor::from_slice(&img.data, &[1, img.c, img.h, img.w], &p.device())?;
    if let Some(m) = maps {
        net.set_condition(Tensor::from_slice(&m.data, &[1, m.c, m.h, m.w], &p.device())?)?;
    }
    let y = net.forward(p, &x, Pass::EVAL)?;
    let (_, c, h, w) = y.dims4()?;
    Image::new(c, h, w, y.to_vec()?)
}

/// The network's output for `img` (values not clamped).
pub fn super_resolve(
    net: &mut dyn SrNet,
    p: &mut Params,
    img: &Image,
    tiling: Option<Tiling>,
) -> Result<Image> {
    super_resolve_with(net, p, img, None, tiling)
}

/// [`super_resolve`] for any network: `maps` are the condition maps of a conditioned one
/// (`channels x (h * down) x (w * down)` for an `h x w` image), cut into tiles with the image.
pub fn super_resolve_with(
    net: &mut dyn SrNet,
    p: &mut Params,
    img: &Image,
    maps: Option<&Image>,
    tiling: Option<Tiling>,
) -> Result<Image> {
    ensure!(img.c == 3, "super-resolution needs an RGB image, got {} channels", img.c);
    let down = match (net.condition(), maps) {
        (None, None) => 1,
        (Some(c), Some(m)) => {
            let want = (c.channels, img.h * c.down, img.w * c.down);
            ensure!(
                (m.c, m.h, m.w) == want,
                "the condition maps are {}x{}x{}; for a {}x{} image this network reads {}x{}x{} \
                 (maps x height x width)",
                m.c,
                m.h,
                m.w,
                img.h,
                img.w,
                want.0,
                want.1,
                want.2
            );
            c.down
        }
        (Some(c), None) => {
            anyhow::bail!(
                "{} reads {} condition maps beside each image: none were given",
                net.arch().describe(),
                c.channels
            )
        }
        (None, Some(_)) => anyhow::bail!("{} takes no condition maps", net.arch().describe()),
    };
    let Some(t) = tiling.filter(|t| t.tile < img.h.max(img.w)) else {
        return run(net, p, img, maps);
    };
    t.validate()?;
    let s = net.arch().scale();
    let mut out = Image::new(3, img.h * s, img.w * s, vec![0.0; 3 * img.h * s * img.w * s])?;
    for y0 in (0..img.h).step_by(t.tile) {
        for x0 in (0..img.w).step_by(t.tile) {
            let (y1, x1) = ((y0 + t.tile).min(img.h), (x0 + t.tile).min(img.w));
            let (cy0, cx0) = (y0.saturating_sub(t.overlap), x0.saturating_sub(t.overlap));
            let (cy1, cx1) = ((y1 + t.overlap).min(img.h), (x1 + t.overlap).min(img.w));
            let (th, tw) = (cy1 - cy0, cx1 - cx0);
            let tile_maps = maps.map(|m| m.crop(cy0 * down, cx0 * down, th * down, tw * down)).transpose()?;
            let tile = run(net, p, &img.crop(cy0, cx0, th, tw)?, tile_maps.as_ref())?;
            for c in 0..3 {
                for yy in (y0 * s)..(y1 * s) {
                    let src =
                        &tile.data[(c * tile.h + yy - cy0 * s) * tile.w..][(x0 - cx0) * s..(x1 - cx0) * s];
                    out.data[(c * out.h + yy) * out.w + x0 * s..][..src.len()].copy_from_slice(src);
                }
            }
        }
    }
    Ok(out)
}
