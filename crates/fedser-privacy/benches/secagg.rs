//! Cost of one aggregation round for 91 clients × 38,244 parameters (a
//! 6-class linear model on 6,373 ComParE functionals: 6,373·6 weights + 6
//! biases): plain FedAvg summation vs DP clipping + noise vs secure
//! aggregation (no dropouts, and 10 dropouts split before/after masking), all
//! measured in one run. `cargo bench -p fedser-privacy --bench secagg`
//! (`make bench` runs it); `RAYON_NUM_THREADS` sets the threads.
#![allow(clippy::print_stdout, reason = "a benchmark report")]

use std::time::Instant;

use fedser_privacy::dp::{DpMechanism, Placement};
use fedser_privacy::secagg::{dropout_pattern, Quantizer, SecAgg};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

const CLIENTS: usize = 91;
const DIM: usize = 6_373 * 6 + 6;

fn median_seconds(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    let reps: usize = std::env::var("FEDSER_BENCH_REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let updates: Vec<Vec<f32>> =
        (0..CLIENTS).map(|_| (0..DIM).map(|_| rng.gen_range(-0.05..0.05_f32)).collect()).collect();
    println!(
        "== secure aggregation vs plain FedAvg: {CLIENTS} clients x {DIM} parameters, {} threads, median of {reps}",
        rayon::current_num_threads()
    );

    let plain = median_seconds(reps, || {
        let mut sum = vec![0.0_f32; DIM];
        for u in &updates {
            sum.iter_mut().zip(u).for_each(|(s, &x)| *s += x / CLIENTS as f32);
        }
        std::hint::black_box(sum);
    });
    let dp = DpMechanism::new(0.5, 1.0, Placement::Server).unwrap_or_else(|e| panic!("{e}"));
    let dp_s = median_seconds(reps, || {
        let mut r = ChaCha20Rng::seed_from_u64(2);
        std::hint::black_box(dp.aggregate(&updates, None, CLIENTS as f64, &mut r).unwrap_or_else(|e| panic!("{e}")));
    });
    let agg = SecAgg::new(0.67, Quantizer::new(24, 1.0).unwrap_or_else(|e| panic!("{e}")), 7)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut qerr = None;
    let sec = median_seconds(reps, || {
        let out = agg.run_round(1, &updates, &[]).unwrap_or_else(|e| panic!("{e}"));
        qerr = Some(out.quantization_error);
    });
    let drops = dropout_pattern(CLIENTS, 5, 5, 3);
    let sec_drop = median_seconds(reps, || {
        std::hint::black_box(agg.run_round(2, &updates, &drops).unwrap_or_else(|e| panic!("{e}")));
    });
    println!("{:<44} {:>10} {:>10}", "mechanism", "s/round", "x plain");
    for (name, s) in [
        ("plain FedAvg sum", plain),
        ("DP clip + server noise (z = 1)", dp_s),
        ("SecAgg 24 bit, t = 62/91, no dropout", sec),
        ("SecAgg, 5 drop before + 5 after masking", sec_drop),
    ] {
        println!("{name:<44} {s:>10.4} {:>10.1}", s / plain);
    }
    if let Some(q) = qerr {
        println!(
            "quantisation error of the secure sum (24 bits, range ±1): max |err| {:.3e}, rms {:.3e}, clamped {}",
            q.max_abs, q.rms, q.clamped
        );
    }
}
