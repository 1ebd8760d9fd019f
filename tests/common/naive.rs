//! Plain-loop references in f64 for the CPU ops: obviously correct, slow, test-only.
#![allow(dead_code)]

use ddr_engine::device::Conv2dGeom;

fn at(x: &[f32], g: &Conv2dGeom, n: usize, c: usize, ih: isize, iw: isize) -> f64 {
    if ih < 0 || iw < 0 || ih as usize >= g.h || iw as usize >= g.w {
        return 0.0;
    }
    x[((n * g.c_in + c) * g.h + ih as usize) * g.w + iw as usize] as f64
}

pub fn conv2d_fwd(g: &Conv2dGeom, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f64> {
    let (ho, wo) = (g.ho(), g.wo());
    let mut y = vec![0f64; g.n * g.c_out * ho * wo];
    for n in 0..g.n {
        for o in 0..g.c_out {
            for oh in 0..ho {
                for ow in 0..wo {
                    let mut s = b.map_or(0.0, |b| b[o] as f64);
                    for c in 0..g.c_in {
                        for i in 0..g.kh {
                            for j in 0..g.kw {
                                let ih = (oh * g.stride + i) as isize - g.pad as isize;
                                let iw = (ow * g.stride + j) as isize - g.pad as isize;
                                s += at(x, g, n, c, ih, iw)
                                    * w[((o * g.c_in + c) * g.kh + i) * g.kw + j] as f64;
                            }
                        }
                    }
                    y[((n * g.c_out + o) * ho + oh) * wo + ow] = s;
                }
            }
        }
    }
    y
}

/// (dx, dw, db) for upstream gradient dy.
pub fn conv2d_bwd(g: &Conv2dGeom, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (ho, wo) = (g.ho(), g.wo());
    let mut dx = vec![0f64; x.len()];
    let mut dw = vec![0f64; w.len()];
    let mut db = vec![0f64; g.c_out];
    for n in 0..g.n {
        for o in 0..g.c_out {
            for oh in 0..ho {
                for ow in 0..wo {
                    let d = dy[((n * g.c_out + o) * ho + oh) * wo + ow] as f64;
                    db[o] += d;
                    for c in 0..g.c_in {
                        for i in 0..g.kh {
                            for j in 0..g.kw {
                                let ih = (oh * g.stride + i) as isize - g.pad as isize;
                                let iw = (ow * g.stride + j) as isize - g.pad as isize;
                                if ih < 0 || iw < 0 || ih as usize >= g.h || iw as usize >= g.w {
                                    continue;
                                }
                                let xi = ((n * g.c_in + c) * g.h + ih as usize) * g.w + iw as usize;
                                let wi = ((o * g.c_in + c) * g.kh + i) * g.kw + j;
                                dx[xi] += d * w[wi] as f64;
                                dw[wi] += d * x[xi] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    (dx, dw, db)
}
