//! Generates a synthetic corpus and prints timing: `synth_corpus OUT [cremad]`.
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "synth-corpus".to_string());
    let mut p = fedser_synth::SynthParams::default();
    let mode = args.next();
    if mode.as_deref() == Some("actors24") {
        p.actors = 24;
    }
    if mode.as_deref() == Some("cremad") {
        p.actors = 91;
        p.sentences = fedser_synth::SENTENCES.iter().map(|s| s.to_string()).collect();
        p.inventory = fedser_synth::Inventory::Cremad;
        p.missing = 20;
    }
    let t = Instant::now();
    let s = fedser_synth::generate(&p, std::path::Path::new(&out))?;
    let dt = t.elapsed().as_secs_f64();
    println!(
        "{} clips, {} actors, {:.1} s audio (avg {:.3} s/clip) in {:.2} s = {:.0} clips/s",
        s.clips,
        s.actors,
        s.audio_seconds,
        s.audio_seconds / s.clips as f64,
        dt,
        s.clips as f64 / dt
    );
    Ok(())
}
