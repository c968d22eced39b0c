//! Federated standardisation: every client sends only its row count and the
//! per-feature sums and sums of squares of its training rows; the server
//! adds them and forms the global mean and standard deviation. No client's
//! statistics reach another client, and the server never sees a row.
//!
//! The result equals the centralized statistics over the union of the
//! clients' rows (population standard deviation; a column whose standard
//! deviation is below `1e-6 * max(|mean|, 1)` keeps scale 1, as in
//! `fedser-train`).

use crate::model::Standardizer;

/// What one client sends.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientStats {
    /// Rows.
    pub n: u64,
    /// Per-feature sum.
    pub sum: Vec<f64>,
    /// Per-feature sum of squares.
    pub sumsq: Vec<f64>,
}

impl ClientStats {
    /// The statistics of `rows` of `x` (row-major, `d` columns).
    #[must_use]
    pub fn of(x: &[f32], d: usize, rows: &[usize]) -> Self {
        let mut sum = vec![0f64; d];
        let mut sumsq = vec![0f64; d];
        for &r in rows {
            for ((s, q), &v) in sum.iter_mut().zip(sumsq.iter_mut()).zip(&x[r * d..(r + 1) * d]) {
                let v = f64::from(v);
                *s += v;
                *q += v * v;
            }
        }
        Self { n: rows.len() as u64, sum, sumsq }
    }
}

/// The server's combination of the clients' statistics (in the given order).
/// With no rows the identity map is returned.
#[must_use]
pub fn combine(stats: &[ClientStats], d: usize) -> Standardizer {
    let mut n = 0u64;
    let mut sum = vec![0f64; d];
    let mut sumsq = vec![0f64; d];
    for s in stats {
        n += s.n;
        for j in 0..d {
            sum[j] += s.sum[j];
            sumsq[j] += s.sumsq[j];
        }
    }
    if n == 0 {
        return Standardizer::identity(d);
    }
    let nf = n as f64;
    let mut mean = Vec::with_capacity(d);
    let mut scale = Vec::with_capacity(d);
    for j in 0..d {
        let m = sum[j] / nf;
        let sd = (sumsq[j] / nf - m * m).max(0.0).sqrt();
        mean.push(m as f32);
        scale.push(if sd > 1e-6 * m.abs().max(1.0) { sd as f32 } else { 1.0 });
    }
    Standardizer { mean, scale }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Combined client statistics equal the centralized mean/std computed
    /// directly (two-pass, f64) over the union of the clients' rows.
    #[test]
    fn federated_equals_centralized_standardisation() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let (n, d) = (50, 7);
        let x: Vec<f32> = (0..n * d).map(|i| if i % d == 3 { 2.5 } else { rng.gen_range(-4.0..10.0) }).collect();
        let clients: Vec<Vec<usize>> = vec![(0..10).collect(), (10..11).collect(), (20..50).collect()];
        let stats: Vec<ClientStats> = clients.iter().map(|r| ClientStats::of(&x, d, r)).collect();
        let fed = combine(&stats, d);
        let all: Vec<usize> = clients.concat();
        for j in 0..d {
            let col: Vec<f64> = all.iter().map(|&r| f64::from(x[r * d + j])).collect();
            let m = col.iter().sum::<f64>() / col.len() as f64;
            let sd = (col.iter().map(|v| (v - m).powi(2)).sum::<f64>() / col.len() as f64).sqrt();
            assert!((f64::from(fed.mean[j]) - m).abs() < 1e-5, "mean {j}");
            let want = if j == 3 { 1.0 } else { sd };
            assert!((f64::from(fed.scale[j]) - want).abs() < 1e-5 * want, "scale {j}: {} vs {want}", fed.scale[j]);
        }
        assert_eq!(combine(&[], d), Standardizer::identity(d));
    }
}
