//! The softmax fit's hot loop: logits and gradient of one block of rows,
//! read straight from the row-major feature matrix (no gather copy, no
//! packing), with explicit SIMD and runtime CPU dispatch through `pulp`
//! (AVX2+FMA where available, else scalar; all safe code).
//!
//! Per group of [`GROUP`] rows: the `k` logits of each row are computed as
//! `k` simultaneous dot products with the rows of `Vᵀ` (two rows at a time,
//! so every load of a `Vᵀ` chunk serves both), the caller's `softmax`
//! callback turns them into per-row gradient weights `g`, and then
//! `GVᵀ[q] += Σ_r g[r][q] x_r` is accumulated while the group's rows are
//! still in cache (every load and store of a `GVᵀ` chunk serves the whole
//! group). `Vᵀ` and `GVᵀ` are `k` rows of stride [`stride`]`(d)` (zero
//! padding), so the last partial SIMD chunk of a feature row is a masked
//! load of `x` against zero-padded `Vᵀ`/`GVᵀ`.
//!
//! Deterministic: rows are visited in the given order, each dot product is
//! accumulated in SIMD lanes over the columns in order and the lanes are
//! summed in pulp's fixed order; the gradient adds the group's rows in
//! order. Results depend only on the instruction set picked at run time
//! (the lane count), never on threads or timing.

use pulp::{Arch, Simd, WithSimd};

/// Rows whose gradient is accumulated together.
const GROUP: usize = 8;
/// Rows per logits tile (every `Vᵀ` load is used this many times).
const TILE_ROWS: usize = 2;
/// Classes per logits tile: `TILE_ROWS * TILE_CLASSES` accumulators plus
/// the loaded vectors fit in 16 vector registers.
const TILE_CLASSES: usize = 6;
/// Row stride of `Vᵀ`/`GVᵀ` is a multiple of this (any SIMD lane count).
const PAD: usize = 16;

/// Row stride of `Vᵀ` and `GVᵀ` for `d` features: `d` rounded up to a
/// multiple of 16; the padding must be zero in `Vᵀ`.
pub fn stride(d: usize) -> usize {
    d.next_multiple_of(PAD)
}

/// One block of rows: logits, callback, gradient accumulation.
pub struct BlockEval<'a, F> {
    /// The feature matrix, row-major, `d` columns.
    pub x: &'a [f32],
    /// Columns.
    pub d: usize,
    /// Rows of `x` to visit, in order.
    pub rows: &'a [usize],
    /// `Vᵀ`, `k` rows of stride [`stride`]`(d)`, zero padded.
    pub vt: &'a [f32],
    /// Classes.
    pub k: usize,
    /// `GVᵀ`, same layout as `vt`; this block's contribution is added.
    pub gvt: &'a mut [f32],
    /// `softmax(i, z)`: `z` holds the `k` dot products `x_{rows[i]} · V[:, q]`
    /// on entry and must hold the gradient weights `g_q` on exit.
    pub softmax: F,
}

impl<F: FnMut(usize, &mut [f32])> BlockEval<'_, F> {
    /// Runs the block with the best instruction set of this CPU.
    pub fn run(self, arch: Arch) {
        arch.dispatch(self);
    }
}

/// One feature row as full SIMD chunks plus the zero-filled last chunk.
struct Row<'a, S: Simd> {
    head: &'a [S::f32s],
    tail: S::f32s,
}

impl<F: FnMut(usize, &mut [f32])> WithSimd for BlockEval<'_, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
        let Self { x, d, rows, vt, k, gvt, mut softmax } = self;
        if d == 0 {
            // no features: all logits are zero, no gradient
            let mut z = vec![0f32; k];
            for i in 0..rows.len() {
                z.fill(0.0);
                softmax(i, &mut z);
            }
            return;
        }
        let lanes = size_of::<S::f32s>() / size_of::<f32>();
        let dp = stride(d);
        assert!(k > 0 && dp.is_multiple_of(lanes));
        assert_eq!(vt.len(), k * dp);
        assert_eq!(gvt.len(), k * dp);
        // full chunks of a feature row, and whether a partial one follows
        let full = d / lanes;
        let partial = d % lanes != 0;
        let v_rows: Vec<&[S::f32s]> = S::as_simd_f32s(vt).0.chunks_exact(dp / lanes).collect();
        let mut gv_rows: Vec<&mut [S::f32s]> = S::as_mut_simd_f32s(gvt)
            .0
            .chunks_exact_mut(dp / lanes)
            .map(|r| &mut r[..full + usize::from(partial)])
            .collect();
        let zero = simd.splat_f32s(0.0);
        let mut z = vec![0f32; GROUP * k];
        let mut w = vec![[zero; GROUP]; k];
        for (g, group) in rows.chunks(GROUP).enumerate() {
            let nr = group.len();
            let xr: [Row<'_, S>; GROUP] = std::array::from_fn(|r| {
                let i = group[r.min(nr - 1)];
                let row = &x[i * d..(i + 1) * d];
                let (head, rest) = S::as_simd_f32s(row);
                debug_assert_eq!(head.len(), full);
                Row { head, tail: if partial { simd.partial_load_f32s(rest) } else { zero } }
            });
            // logits, TILE_ROWS rows x TILE_CLASSES classes at a time, each
            // tile streaming its rows once from start to end
            let mut r0 = 0;
            while r0 < nr {
                let tr = (nr - r0).min(TILE_ROWS);
                let mut q0 = 0;
                while q0 < k {
                    let tc = (k - q0).min(TILE_CLASSES);
                    let vs = &v_rows[q0..q0 + tc];
                    let xs = &xr[r0..r0 + tr];
                    let out = &mut z[r0 * k + q0..];
                    macro_rules! tile {
                        ($($r:literal, $c:literal);*) => {
                            match (tr, tc) {
                                $(($r, $c) => dot_tile::<S, $r, $c>(simd, xs, vs, full, partial, out, k),)*
                                _ => unreachable!(),
                            }
                        };
                    }
                    tile!(1, 1; 1, 2; 1, 3; 1, 4; 1, 5; 1, 6; 2, 1; 2, 2; 2, 3; 2, 4; 2, 5; 2, 6);
                    q0 += tc;
                }
                r0 += tr;
            }
            // softmax -> gradient weights
            for r in 0..nr {
                softmax(g * GROUP + r, &mut z[r * k..(r + 1) * k]);
            }
            // GVᵀ[q] += Σ_r g[r][q] x_r
            for (q, wq) in w.iter_mut().enumerate() {
                for r in 0..nr {
                    wq[r] = simd.splat_f32s(z[r * k + q]);
                }
            }
            macro_rules! axpy {
                ($($r:literal)*) => {
                    match nr {
                        $($r => axpy_group::<S, $r>(simd, &xr[..$r], &w, full, partial, &mut gv_rows),)*
                        _ => unreachable!(),
                    }
                };
            }
            axpy!(1 2 3 4 5 6 7 8);
        }
    }
}

/// `out[r * k + q] = xs[r] · vs[q]` for `R` rows and `C` classes: lane-wise
/// sums over the columns in order (the last partial chunk zero-filled), then
/// the lanes summed.
#[inline(always)]
fn dot_tile<S: Simd, const R: usize, const C: usize>(
    simd: S,
    xs: &[Row<'_, S>],
    vs: &[&[S::f32s]],
    full: usize,
    partial: bool,
    out: &mut [f32],
    k: usize,
) {
    let xh: [&[S::f32s]; R] = std::array::from_fn(|r| &xs[r].head[..full]);
    let vh: [&[S::f32s]; C] = std::array::from_fn(|q| &vs[q][..full]);
    let mut acc = [[simd.splat_f32s(0.0); C]; R];
    for i in 0..full {
        let xv: [S::f32s; R] = std::array::from_fn(|r| xh[r][i]);
        for q in 0..C {
            let v = vh[q][i];
            for r in 0..R {
                acc[r][q] = simd.mul_add_e_f32s(xv[r], v, acc[r][q]);
            }
        }
    }
    if partial {
        for q in 0..C {
            let v = vs[q][full];
            for r in 0..R {
                acc[r][q] = simd.mul_add_e_f32s(xs[r].tail, v, acc[r][q]);
            }
        }
    }
    for r in 0..R {
        for q in 0..C {
            out[r * k + q] = simd.reduce_sum_f32s(acc[r][q]);
        }
    }
}

/// `gv[q] += Σ_r w[q][r] * xs[r]` for the `R` rows of a group (`w` holds
/// the gradient weights splatted).
#[inline(always)]
fn axpy_group<S: Simd, const R: usize>(
    simd: S,
    xs: &[Row<'_, S>],
    w: &[[S::f32s; GROUP]],
    full: usize,
    partial: bool,
    gv: &mut [&mut [S::f32s]],
) {
    let xh: [&[S::f32s]; R] = std::array::from_fn(|r| &xs[r].head[..full]);
    for i in 0..full {
        let xv: [S::f32s; R] = std::array::from_fn(|r| xh[r][i]);
        for (gq, wq) in gv.iter_mut().zip(w) {
            let a = &mut gq[i];
            let mut acc = *a;
            for r in 0..R {
                acc = simd.mul_add_e_f32s(wq[r], xv[r], acc);
            }
            *a = acc;
        }
    }
    if partial {
        for (gq, wq) in gv.iter_mut().zip(w) {
            let a = &mut gq[full];
            let mut acc = *a;
            for r in 0..R {
                acc = simd.mul_add_e_f32s(wq[r], xs[r].tail, acc);
            }
            *a = acc;
        }
    }
}
