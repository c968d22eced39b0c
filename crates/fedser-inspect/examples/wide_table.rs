//! Writes a ComParE-sized random table (7,442 rows x 6,379 columns: the six
//! key columns plus 6,373 float32 features) for timing `fedser inspect`:
//!
//! ```text
//! cargo run --release -p fedser-inspect --example wide_table -- /tmp/wide.parquet
//! time fedser inspect /tmp/wide.parquet
//! time fedser inspect /tmp/wide.parquet --describe
//! ```

use std::fs::File;

use polars::prelude::*;

const ROWS: usize = 7_442;
const FEATURES: usize = 6_373;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: wide_table OUT.parquet")?;
    let emotions = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"];
    let sentences = ["DFA", "IEO", "IOM", "ITH", "ITS", "IWL", "IWW", "MTI", "TAI", "TIE", "TSI", "WSI"];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        // xorshift64*: uniform in [0, 1)
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    };
    let actor: Vec<i32> = (0..ROWS).map(|i| 1001 + (i % 91) as i32).collect();
    let sentence: Vec<&str> = (0..ROWS).map(|i| sentences[(i / 91) % sentences.len()]).collect();
    let emotion: Vec<&str> = (0..ROWS).map(|i| emotions[(i / 7) % 6]).collect();
    let file: Vec<String> = (0..ROWS).map(|i| format!("{}_{}_{}_XX.wav", actor[i], sentence[i], emotion[i])).collect();
    let mut columns: Vec<Column> = vec![
        Column::new("file".into(), file),
        Column::new("actor".into(), actor),
        Column::new("sentence".into(), sentence),
        Column::new("emotion".into(), emotion),
        Column::new("level".into(), vec!["XX"; ROWS]),
        Column::new("duration_s".into(), (0..ROWS).map(|_| 1.5 + 2.0 * f64::from(next())).collect::<Vec<f64>>()),
    ];
    let stats = ["amean", "stddev", "skewness", "kurtosis", "range", "quartile1", "quartile2", "quartile3"];
    for k in 0..FEATURES {
        let name = match k {
            0 => "pcm_RMSenergy_sma_amean".to_owned(),
            _ => format!("mfcc_sma[{}]_{}_{}", k % 14 + 1, stats[k % stats.len()], k),
        };
        let v: Vec<f32> = (0..ROWS).map(|_| next() * 10.0 - 5.0).collect();
        columns.push(Column::new(name.into(), v));
    }
    let mut df = DataFrame::new(ROWS, columns)?;
    ParquetWriter::new(File::create(&out)?).finish(&mut df)?;
    println!("wrote {} rows x {} columns to {out}", df.height(), df.width());
    Ok(())
}
