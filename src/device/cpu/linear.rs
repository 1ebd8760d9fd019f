//! Fully connected layer as PyTorch's Linear: `y = x W^T + b`, `W`: `[out, in]`.

use super::gemm::{gemm, Strided};
use rayon::prelude::*;

/// `x`: `[n, i]`, `y`: `[n, o]` (overwritten).
pub fn linear_fwd_f32(n: usize, i: usize, o: usize, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    let acc = match b {
        Some(b) => {
            y.chunks_exact_mut(o).for_each(|row| row.copy_from_slice(b));
            true
        }
        None => false,
    };
    par_rows(n, o, y, |r0, rows, c| {
        gemm(rows, o, i, &Strided::row_major(&x[r0 * i..], i), &Strided::transposed(w, i), c, o, acc)
    });
}

/// `dx = dy W` (overwritten), `dw += dy^T x`, `db += column sums of dy`, each only when asked for.
pub fn linear_bwd_f32(
    n: usize,
    i: usize,
    o: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    db: Option<&mut [f32]>,
) {
    if let Some(dx) = dx {
        par_rows(n, i, dx, |r0, rows, c| {
            gemm(rows, i, o, &Strided::row_major(&dy[r0 * o..], o), &Strided::row_major(w, i), c, i, false)
        });
    }
    if let Some(dw) = dw {
        par_rows(o, i, dw, |r0, rows, c| {
            gemm(
                rows,
                i,
                n,
                &Strided { data: &dy[r0..], rs: 1, cs: o },
                &Strided::row_major(x, i),
                c,
                i,
                true,
            )
        });
    }
    if let Some(db) = db {
        for (j, d) in db.iter_mut().enumerate() {
            *d += (0..n).map(|r| dy[r * o + j] as f64).sum::<f64>() as f32;
        }
    }
}

/// Splits the rows of a row-major `[rows, cols]` output into a few parallel tasks.
fn par_rows(rows: usize, cols: usize, out: &mut [f32], f: impl Fn(usize, usize, &mut [f32]) + Sync) {
    if out.is_empty() {
        return; // no rows or no columns (a layer with no inputs has an empty dx and dw)
    }
    let per = rows.div_ceil(rayon::current_num_threads()).max(1);
    out.par_chunks_mut(per * cols).enumerate().for_each(|(t, c)| f(t * per, c.len() / cols, c));
}
