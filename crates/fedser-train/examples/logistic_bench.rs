//! `make bench` (centralized model part): fedser's multinomial logistic
//! regression (`softmax::fit`, f32 data through the fused SIMD kernel,
//! L-BFGS) against linfa-logistic's `MultiLogisticRegression` (f64, argmin's
//! L-BFGS) on the same full-size problem in the same run: n = 7,000 rows,
//! d = 6,373 features (ComParE's width), k = 6 classes, alpha 1, a fixed
//! number of L-BFGS iterations and no early stop (linfa-logistic refuses a
//! zero gradient tolerance, so it gets 1e-30). Prints seconds per
//! iteration of each, the ratio, and the agreement of their predictions.
//!
//! `cargo run --release -p fedser-train --example logistic_bench [ITERATIONS] [ROWS]`
#![allow(clippy::print_stdout)]

use fedser_train::softmax::{fit, SoftmaxConfig};
use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let iterations: usize = args.next().map_or(Ok(20), |a| a.parse())?;
    let n: usize = args.next().map_or(Ok(7000), |a| a.parse())?;
    let (d, k) = (6373usize, 6usize);
    // a fixed pseudo-random problem: noise plus a class-dependent shift in
    // every k-th column, standardised once (as the train stage hands data)
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let y: Vec<usize> = (0..n).map(|i| (i * 7 + i / 13) % k).collect();
    let mut x = Array2::<f32>::zeros((n, d));
    for (i, mut row) in x.rows_mut().into_iter().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = rnd() * 2.0 + if j % k == y[i] { 0.3 } else { 0.0 };
        }
    }
    let rows: Vec<usize> = (0..n).collect();
    let mean = x.mean_axis(ndarray::Axis(0)).ok_or("no rows")?.to_vec();
    let scale: Vec<f32> = x.std_axis(ndarray::Axis(0), 0.0).iter().map(|s| if *s > 0.0 { *s } else { 1.0 }).collect();

    let cfg = SoftmaxConfig { alpha: 1.0, max_iterations: iterations, tolerance: 0.0, memory: 10 };
    let t = std::time::Instant::now();
    let m = fit(&x, &rows, &y, k, &mean, &scale, &cfg, None);
    let fedser_secs = t.elapsed().as_secs_f64();
    let fedser_pred = m.predict_rows(&x, &rows);
    println!(
        "fedser logistic:  n={n} d={d} k={k}: {} iterations, {} evaluations in {fedser_secs:.3} s = {:.1} ms/iteration ({:.1} ms/evaluation)",
        m.iterations,
        m.evaluations,
        1e3 * fedser_secs / m.iterations.max(1) as f64,
        1e3 * fedser_secs / m.evaluations.max(1) as f64,
    );

    // linfa-logistic on the same standardised rows, in f64 (what the
    // `linfa_logistic` model of the train stage does)
    let mut xs = Array2::<f64>::zeros((n, d));
    for ((o, &v), j) in xs.iter_mut().zip(x.iter()).zip((0..d).cycle()) {
        *o = f64::from((v - mean[j]) / scale[j]);
    }
    let ds = Dataset::new(xs, Array1::from(y.clone()));
    let t = std::time::Instant::now();
    let lm = MultiLogisticRegression::default()
        .alpha(1.0)
        .max_iterations(iterations as u64)
        .gradient_tolerance(1e-30)
        .fit(&ds)?;
    let linfa_secs = t.elapsed().as_secs_f64();
    let linfa_pred = lm.predict(ds.records());
    println!(
        "linfa-logistic:   same problem, {iterations} iterations in {linfa_secs:.3} s = {:.1} ms/iteration",
        1e3 * linfa_secs / iterations.max(1) as f64
    );
    let per_it_fedser = fedser_secs / m.iterations.max(1) as f64;
    let per_it_linfa = linfa_secs / iterations.max(1) as f64;
    let agree = fedser_pred.iter().zip(linfa_pred.iter()).filter(|(a, b)| a == b).count();
    println!(
        "fedser logistic is {:.2}x faster per L-BFGS iteration than linfa-logistic; predictions agree on {agree} of {n} rows",
        per_it_linfa / per_it_fedser
    );
    Ok(())
}
