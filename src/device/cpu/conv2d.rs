//! 2-D convolution (cross-correlation, as PyTorch's Conv2d) on NCHW activations and OIHW weights,
//! forward and both backward passes, all as matrix products on [`super::gemm`].
//!
//! - forward, per image: `Y[O x P] = W[O x CKK] · col(X)[CKK x P]`, the im2col panels packed
//!   straight from the image ([`Im2col`]), the bias written into Y first and accumulated onto;
//! - grad input, stride 1: a forward convolution of dY with the weights flipped and transposed
//!   (padding `k - 1 - pad`), so it runs the same fast path; other strides: `dcol = W^T · dY` and a
//!   col2im scatter-add;
//! - grad weight: `dW^T[CKK x O] = col(X)[CKK x NP] · dY^T[NP x O]` with the whole batch as the
//!   reduction dimension, split over rows of dW^T between threads.
//!
//! Every output element is reduced in one fixed order whatever the thread count, so the bytes are
//! reproducible.

use super::gemm::{gemm, PackA, PackB, Strided, MR, NR};
use crate::device::Conv2dGeom;
use rayon::prelude::*;

/// The im2col matrix of one image, `B[(c, i, j), (oh, ow)] = x[c, oh*s - pad + i, ow*s - pad + j]`
/// (zero outside the image), packed on demand. As a [`PackB`] its columns are output pixels; as
/// a [`PackA`] its rows are (c, i, j) and its columns the pixels of the images `n0..` in turn.
struct Im2col<'a> {
    g: &'a Conv2dGeom,
    /// The batch's input, `[n, c_in, h, w]`.
    x: &'a [f32],
    /// The image that pixel column 0 belongs to.
    n0: usize,
}

impl Im2col<'_> {
    /// Writes `len` pixels of im2col row `(c, ki, kj)`, starting at output pixel `(oh, ow)` of
    /// image `img` and staying in that output row, into `dst[0], dst[step], ...`.
    #[inline]
    fn row_run(
        &self,
        (c, ki, kj): (usize, usize, usize),
        img: usize,
        oh: usize,
        ow: usize,
        len: usize,
        dst: &mut [f32],
        step: usize,
    ) {
        let g = self.g;
        let ih = (oh * g.stride + ki) as isize - g.pad as isize;
        if ih < 0 || ih as usize >= g.h {
            (0..len).for_each(|t| dst[t * step] = 0.0);
            return;
        }
        let row = &self.x[((img * g.c_in + c) * g.h + ih as usize) * g.w..][..g.w];
        let iw0 = (ow * g.stride + kj) as isize - g.pad as isize;
        if g.stride == 1 {
            // Pixels lo..hi read inside the image; the rest is zero padding.
            let lo = (-iw0).clamp(0, len as isize) as usize;
            let hi = (g.w as isize - iw0).clamp(lo as isize, len as isize) as usize;
            (0..lo).for_each(|t| dst[t * step] = 0.0);
            if lo < hi {
                let src = &row[(iw0 + lo as isize) as usize..][..hi - lo];
                if step == 1 {
                    dst[lo..hi].copy_from_slice(src);
                } else {
                    src.iter().enumerate().for_each(|(t, &v)| dst[(lo + t) * step] = v);
                }
            }
            (hi..len).for_each(|t| dst[t * step] = 0.0);
        } else {
            for t in 0..len {
                let iw = iw0 + (t * g.stride) as isize;
                dst[t * step] = if iw >= 0 && (iw as usize) < g.w { row[iw as usize] } else { 0.0 };
            }
        }
    }

    /// The NR input values a full one-row panel reads at stride 1 when all are inside the image.
    #[inline]
    fn full_panel(&self, (c, ki, kj): (usize, usize, usize), pos: &PanelPos) -> Option<&[f32; NR]> {
        let g = self.g;
        if g.stride != 1 {
            return None;
        }
        let ih = (pos.oh + ki).checked_sub(g.pad).filter(|&ih| ih < g.h)?;
        let iw = (pos.ow + kj).checked_sub(g.pad).filter(|&iw| iw + NR <= g.w)?;
        self.x[((pos.img * g.c_in + c) * g.h + ih) * g.w + iw..][..NR].try_into().ok()
    }

    /// Writes `len` consecutive output pixels starting at pixel `q` (counted across images from
    /// image `n0`) of im2col row `k` into `dst[0], dst[step], ...`, one output-row run at a time.
    fn row_segment(&self, k: usize, q: usize, len: usize, dst: &mut [f32], step: usize) {
        let g = self.g;
        let (plane, wo) = (g.ho() * g.wo(), g.wo());
        let ckj = (k / (g.kh * g.kw), (k / g.kw) % g.kh, k % g.kw);
        let mut t = 0;
        while t < len {
            let (img, pix) = (self.n0 + (q + t) / plane, (q + t) % plane);
            let (oh, ow) = (pix / wo, pix % wo);
            let run = (wo - ow).min(len - t);
            self.row_run(ckj, img, oh, ow, run, &mut dst[t * step..], step);
            t += run;
        }
    }
}

/// Where one NR-wide panel of output pixels sits: its first pixel's image and position, and
/// whether all its pixels lie in one output row (then, at stride 1, they read one input run).
#[derive(Clone, Copy)]
struct PanelPos {
    img: usize,
    oh: usize,
    ow: usize,
    cols: usize,
    one_row: bool,
}

impl PackB for Im2col<'_> {
    fn pack_b(&self, p0: usize, kc: usize, j0: usize, nc: usize, out: &mut [f32]) {
        let g = self.g;
        let (ho, wo) = (g.ho(), g.wo());
        let plane = ho * wo;
        let panels: Vec<PanelPos> = (0..nc.div_ceil(NR))
            .map(|jp| {
                let q = j0 + jp * NR;
                let cols = (nc - jp * NR).min(NR);
                let (pix, img) = (q % plane, self.n0 + q / plane);
                let (oh, ow) = (pix / wo, pix % wo);
                PanelPos { img, oh, ow, cols, one_row: ow + cols <= wo }
            })
            .collect();
        // Walk k = (c, ki, kj) incrementally: no division in the loop.
        let (mut c, mut ki, mut kj) = (p0 / (g.kh * g.kw), (p0 / g.kw) % g.kh, p0 % g.kw);
        for p in 0..kc {
            for (jp, pos) in panels.iter().enumerate() {
                let dst = &mut out[(jp * kc + p) * NR..][..NR];
                if pos.one_row {
                    if let (true, Some(src)) = (pos.cols == NR, self.full_panel((c, ki, kj), pos)) {
                        *<&mut [f32; NR]>::try_from(&mut *dst).unwrap() = *src;
                        continue;
                    }
                    self.row_run((c, ki, kj), pos.img, pos.oh, pos.ow, pos.cols, dst, 1);
                } else {
                    self.row_segment(
                        p0 + p,
                        (pos.img - self.n0) * plane + pos.oh * wo + pos.ow,
                        pos.cols,
                        dst,
                        1,
                    );
                }
                dst[pos.cols..].fill(0.0);
            }
            kj += 1;
            if kj == g.kw {
                kj = 0;
                ki += 1;
                if ki == g.kh {
                    ki = 0;
                    c += 1;
                }
            }
        }
    }
}

impl PackA for Im2col<'_> {
    fn pack_a(&self, i0: usize, mc: usize, p0: usize, kc: usize, out: &mut [f32]) {
        for (ip, panel) in out.chunks_exact_mut(kc * MR).take(mc.div_ceil(MR)).enumerate() {
            let rows = (mc - ip * MR).min(MR);
            for r in 0..MR {
                let dst = &mut panel[r..];
                if r < rows {
                    self.row_segment(i0 + ip * MR + r, p0, kc, dst, MR);
                } else {
                    (0..kc).for_each(|p| dst[p * MR] = 0.0);
                }
            }
        }
    }
}

/// A pointer that may cross threads; each task writes a disjoint part of the buffer behind it.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    /// Through a method so closures capture the whole (Send) wrapper, not the raw field.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// How to cut `count` units into tasks so that all threads have work.
fn stripes(count: usize, unit: usize, min_tasks: usize) -> usize {
    let units = count.div_ceil(unit);
    let per_task = units.div_ceil(min_tasks.max(1)).max(1);
    per_task * unit
}

/// `y = conv2d(x, w) + b`. `x`: `[n, c_in, h, w]`, `w`: `[c_out, c_in, kh, kw]`, `b`: `[c_out]`,
/// `y`: `[n, c_out, ho, wo]` (overwritten).
pub fn conv2d_fwd_f32(g: &Conv2dGeom, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    debug_assert_eq!(x.len(), g.n * g.in_len());
    debug_assert_eq!(w.len(), g.weight_len());
    debug_assert_eq!(y.len(), g.n * g.out_len());
    let plane = g.ho() * g.wo();
    let (m, k) = (g.c_out, g.ckk());
    // One task per (image, pixel stripe); stripes only when there are fewer images than threads.
    let threads = rayon::current_num_threads();
    let stripe = if g.n >= threads { plane } else { stripes(plane, NR, threads.div_ceil(g.n)) };
    let per_image = plane.div_ceil(stripe);
    let yp = SendPtr(y.as_mut_ptr());
    (0..g.n * per_image).into_par_iter().for_each(|task| {
        let (img, s) = (task / per_image, task % per_image);
        let j0 = s * stripe;
        let nc = (plane - j0).min(stripe);
        // SAFETY: each task owns columns j0..j0+nc of image img's rows; tasks never overlap.
        let yimg = unsafe { std::slice::from_raw_parts_mut(yp.get().add(img * g.out_len()), g.out_len()) };
        let c = &mut yimg[j0..];
        let acc = match b {
            Some(b) => {
                for (o, &bo) in b.iter().enumerate() {
                    c[o * plane..o * plane + nc].fill(bo);
                }
                true
            }
            None => false,
        };
        let b_src = Im2col { g, x, n0: img };
        gemm(m, nc, k, &Strided::row_major(w, k), &ShiftedB { inner: &b_src, j_offset: j0 }, c, plane, acc);
    });
}

/// A [`PackB`] whose column 0 is column `j_offset` of `inner`.
struct ShiftedB<'a, B: PackB> {
    inner: &'a B,
    j_offset: usize,
}

impl<B: PackB> PackB for ShiftedB<'_, B> {
    fn pack_b(&self, p0: usize, kc: usize, j0: usize, nc: usize, out: &mut [f32]) {
        self.inner.pack_b(p0, kc, j0 + self.j_offset, nc, out);
    }
}

/// `dx = d(sum(dy * conv2d(x, w))) / dx` (overwritten).
pub fn conv2d_bwd_input_f32(g: &Conv2dGeom, dy: &[f32], w: &[f32], dx: &mut [f32]) {
    debug_assert_eq!(dy.len(), g.n * g.out_len());
    debug_assert_eq!(w.len(), g.weight_len());
    debug_assert_eq!(dx.len(), g.n * g.in_len());
    if g.stride == 1 && g.pad < g.kh.min(g.kw) && g.kh == g.kw {
        // A stride-1 convolution's input gradient is a full convolution of dy with the kernel
        // rotated by 180 degrees and in/out channels swapped.
        let (kh, kw) = (g.kh, g.kw);
        let mut wt = vec![0f32; g.weight_len()];
        for o in 0..g.c_out {
            for c in 0..g.c_in {
                for i in 0..kh {
                    for j in 0..kw {
                        wt[((c * g.c_out + o) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)] =
                            w[((o * g.c_in + c) * kh + i) * kw + j];
                    }
                }
            }
        }
        let gt = Conv2dGeom {
            n: g.n,
            c_in: g.c_out,
            h: g.ho(),
            w: g.wo(),
            c_out: g.c_in,
            kh,
            kw,
            stride: 1,
            pad: kh - 1 - g.pad,
        };
        debug_assert_eq!((gt.ho(), gt.wo()), (g.h, g.w));
        conv2d_fwd_f32(&gt, dy, &wt, None, dx);
        return;
    }
    conv2d_bwd_input_col2im(g, dy, w, dx);
}

/// The general input gradient: `dcol = W^T · dy` per image, then scatter-add into dx.
pub fn conv2d_bwd_input_col2im(g: &Conv2dGeom, dy: &[f32], w: &[f32], dx: &mut [f32]) {
    let plane = g.ho() * g.wo();
    let ckk = g.ckk();
    dx.par_chunks_mut(g.in_len()).zip(dy.par_chunks(g.out_len())).for_each(|(dxi, dyi)| {
        let mut dcol = vec![0f32; ckk * plane];
        gemm(
            ckk,
            plane,
            g.c_out,
            &Strided::transposed(w, ckk),
            &Strided::row_major(dyi, plane),
            &mut dcol,
            plane,
            false,
        );
        dxi.fill(0.0);
        let wo = g.wo();
        for k in 0..ckk {
            let (c, rest) = (k / (g.kh * g.kw), k % (g.kh * g.kw));
            let (ki, kj) = (rest / g.kw, rest % g.kw);
            for (pix, &v) in dcol[k * plane..(k + 1) * plane].iter().enumerate() {
                let (oh, ow) = (pix / wo, pix % wo);
                let ih = (oh * g.stride + ki) as isize - g.pad as isize;
                let iw = (ow * g.stride + kj) as isize - g.pad as isize;
                if ih >= 0 && (ih as usize) < g.h && iw >= 0 && (iw as usize) < g.w {
                    dxi[(c * g.h + ih as usize) * g.w + iw as usize] += v;
                }
            }
        }
    });
}

/// `dw += d(sum(dy * conv2d(x, w))) / dw` and `db += sum of dy over batch and pixels`.
pub fn conv2d_bwd_weight_f32(g: &Conv2dGeom, x: &[f32], dy: &[f32], dw: &mut [f32], db: Option<&mut [f32]>) {
    debug_assert_eq!(x.len(), g.n * g.in_len());
    debug_assert_eq!(dy.len(), g.n * g.out_len());
    debug_assert_eq!(dw.len(), g.weight_len());
    let plane = g.ho() * g.wo();
    let (o, ckk, np) = (g.c_out, g.ckk(), g.n * plane);
    // dy^T as [n*plane, c_out] so that B panels are contiguous copies.
    let mut dyt = vec![0f32; np * o];
    dyt.par_chunks_mut(plane * o)
        .zip(dy.par_chunks(g.out_len()))
        .for_each(|(t, d)| transpose(d, o, plane, t));
    let mut dwt = vec![0f32; ckk * o];
    let rows = stripes(ckk, MR, rayon::current_num_threads());
    let a = Im2col { g, x, n0: 0 };
    dwt.par_chunks_mut(rows * o).enumerate().for_each(|(t, c)| {
        let i0 = t * rows;
        let m = c.len() / o;
        gemm(m, o, np, &ShiftedA { inner: &a, i_offset: i0 }, &Strided::row_major(&dyt, o), c, o, false);
    });
    for oc in 0..o {
        for k in 0..ckk {
            dw[oc * ckk + k] += dwt[k * o + oc];
        }
    }
    if let Some(db) = db {
        debug_assert_eq!(db.len(), o);
        db.par_iter_mut().enumerate().for_each(|(oc, dbo)| {
            let mut s = 0f64;
            for img in 0..g.n {
                let row = &dy[img * g.out_len() + oc * plane..][..plane];
                s += row.iter().map(|&v| v as f64).sum::<f64>();
            }
            *dbo += s as f32;
        });
    }
}

/// `dst[cols x rows] = src[rows x cols]^T`, in 16 x 16 tiles so both sides stay in cache.
fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    const T: usize = 16;
    for r0 in (0..rows).step_by(T) {
        for c0 in (0..cols).step_by(T) {
            for r in r0..(r0 + T).min(rows) {
                for c in c0..(c0 + T).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// A [`PackA`] whose row 0 is row `i_offset` of `inner`.
struct ShiftedA<'a, A: PackA> {
    inner: &'a A,
    i_offset: usize,
}

impl<A: PackA> PackA for ShiftedA<'_, A> {
    fn pack_a(&self, i0: usize, mc: usize, p0: usize, kc: usize, out: &mut [f32]) {
        self.inner.pack_a(i0 + self.i_offset, mc, p0, kc, out);
    }
}
