//! `make bench` (FFT part): nanoseconds per transform of the sizes fedser
//! uses (forward 512 and 1024 for the 20 and 60 ms frames, inverse 1024 for
//! eGeMAPS' ACF), best of 5 batches of 200,000.
//!
//! `cargo run --release -p fedser-features --example fft_bench`
#![allow(clippy::print_stdout)]

use fedser_features::dsp::ooura::RealFft;

fn main() {
    for (n, forward) in [(512usize, true), (1024, true), (1024, false)] {
        let fft = RealFft::new(n);
        let x: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * 0.5 + (i as f32 * 0.1).sin()).collect();
        // The input is restored before every transform; that cost is
        // measured alone and subtracted. A product with 1 (exact) rather
        // than a copy: libc's memcpy right after the transform's scalar
        // stores takes microseconds here.
        let one = std::hint::black_box(1f32);
        let reps = 200_000;
        let time = |transform: bool| {
            let mut a = x.clone();
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                for _ in 0..reps {
                    a.iter_mut().zip(&x).for_each(|(d, &s)| *d = s * one);
                    match (transform, forward) {
                        (false, _) => {}
                        (true, true) => fft.forward(std::hint::black_box(&mut a)),
                        (true, false) => fft.inverse(std::hint::black_box(&mut a)),
                    }
                    std::hint::black_box(&mut a);
                }
                best = best.min(t.elapsed().as_nanos() as f64 / f64::from(reps));
            }
            best
        };
        let copy = time(false);
        let total = time(true);
        let name = if forward { "forward" } else { "inverse" };
        println!("ooura {name} n={n}: {:.1} ns per transform ({copy:.1} ns of input restore subtracted)", total - copy);
    }
}
