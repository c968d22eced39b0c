use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::Array;
use fedser_cache::table;
use fedser_core::{codes, columns, Protocol};
use ndarray::Array2;

use crate::FedError as TrainError;

/// The feature table in memory: key columns and an `n_clips x n_features`
/// f32 matrix.
#[derive(Debug, Clone)]
pub struct FeatureMatrix {
    /// File names (row order of the table).
    pub files: Vec<String>,
    /// Actor ids.
    pub actors: Vec<i32>,
    /// Label index into `classes`.
    pub labels: Vec<usize>,
    /// Emotion codes present, in CREMA-D label order.
    pub classes: Vec<String>,
    /// Feature names.
    pub names: Vec<String>,
    /// Features.
    pub x: Array2<f32>,
}

/// Reads `features.parquet`: the key columns, then every Float32 column as a
/// feature.
///
/// # Errors
/// [`TrainError`] for unreadable tables, unknown emotions or non-float
/// feature columns.
pub fn load_features(path: &Path) -> Result<FeatureMatrix, TrainError> {
    let (keys, feat_idx, names) = feature_layout(path)?;
    let n = keys.files.len();
    let mut x = Array2::<f32>::zeros((n, feat_idx.len()));
    {
        let d = feat_idx.len();
        let flat = x.as_slice_mut().ok_or_else(|| TrainError::Data {
            path: path.to_path_buf(),
            message: "feature matrix is not contiguous".into(),
        })?;
        stream_features(path, &feat_idx, &names, table::COLUMNS_PER_PASS, |row, first, values| {
            flat[row * d + first..row * d + first + values.len()].copy_from_slice(values);
        })?;
    }
    Ok(FeatureMatrix { files: keys.files, actors: keys.actors, labels: keys.labels, classes: keys.classes, names, x })
}

/// The key columns of a feature table, labels resolved.
#[derive(Debug, Clone)]
pub struct FeatureKeys {
    /// File names (row order of the table).
    pub files: Vec<String>,
    /// Actor ids.
    pub actors: Vec<i32>,
    /// Label index into `classes`.
    pub labels: Vec<usize>,
    /// Emotion codes present, in CREMA-D label order.
    pub classes: Vec<String>,
}

/// The key columns of `features.parquet`, the indices of its feature
/// columns (every column not in [`columns::FEATURE_KEYS`]) and their names.
///
/// # Errors
/// [`TrainError`] for unreadable tables or unknown emotions.
pub fn feature_layout(path: &Path) -> Result<(FeatureKeys, Vec<usize>, Vec<String>), TrainError> {
    let b = table::read_parquet(path, Some(&[columns::FILE, columns::ACTOR, columns::EMOTION]))?;
    let files = table::strings(path, &b, columns::FILE)?;
    let actors: Vec<i32> = table::ints(path, &b, columns::ACTOR)?.into_iter().map(|a| a.unwrap_or(0) as i32).collect();
    let emotions = table::strings(path, &b, columns::EMOTION)?;
    let classes: Vec<String> =
        codes::EMOTIONS.iter().filter(|e| emotions.iter().any(|x| x == *e)).map(|e| (*e).to_owned()).collect();
    let labels = emotions
        .iter()
        .map(|e| {
            classes
                .iter()
                .position(|c| c == e)
                .ok_or_else(|| TrainError::Data { path: path.to_path_buf(), message: format!("unknown emotion `{e}`") })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let schema = table::read_schema(path)?;
    let feat_idx: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| !columns::FEATURE_KEYS.contains(&schema.field(i).name().as_str()))
        .collect();
    let names = feat_idx.iter().map(|&i| schema.field(i).name().clone()).collect();
    Ok((FeatureKeys { files, actors, labels, classes }, feat_idx, names))
}

/// Streams the feature columns `feat_idx` (named `names`) of `path` row by
/// row in passes of `per_pass` columns (e.g. [`table::COLUMNS_PER_PASS`]; a
/// pass holds one zstd decoder of ~100 KB per column): `sink(row, first,
/// values)` gets the values of features `first..first + values.len()` of one
/// row, non-finite values and nulls as 0. Memory is one pass of 1,024 rows,
/// whatever the table's size.
///
/// # Errors
/// [`TrainError`] for unreadable tables and non-float feature columns.
pub fn stream_features(
    path: &Path,
    feat_idx: &[usize],
    names: &[String],
    per_pass: usize,
    mut sink: impl FnMut(usize, usize, &[f32]),
) -> Result<(), TrainError> {
    let mut buf: Vec<f32> = Vec::new();
    table::stream_columns(path, feat_idx, per_pass, 1024, |row0, first, arrays| {
        let cols: Vec<&arrow_array::Float32Array> = arrays
            .iter()
            .enumerate()
            .map(|(j, a)| {
                a.as_any().downcast_ref::<arrow_array::Float32Array>().ok_or_else(|| fedser_cache::CacheError::Column {
                    path: path.to_path_buf(),
                    column: names.get(first + j).cloned().unwrap_or_else(|| format!("#{}", feat_idx[first + j])),
                    problem: "is not Float32".into(),
                })
            })
            .collect::<Result<_, _>>()?;
        let rows = cols.first().map_or(0, |c| c.len());
        for r in 0..rows {
            buf.clear();
            buf.extend(cols.iter().map(|c| if c.is_valid(r) && c.value(r).is_finite() { c.value(r) } else { 0.0 }));
            sink(row0 + r, first, &buf);
        }
        Ok(())
    })?;
    Ok(())
}

/// One fold of one protocol: row indices into the [`FeatureMatrix`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Protocol.
    pub protocol: Protocol,
    /// Fold number.
    pub fold: i32,
    /// Training rows.
    pub train: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

/// Reads `partition.parquet` and resolves it against the feature rows.
/// Clips of the partition that have no feature row are an error (the two
/// tables come from the same manifest).
///
/// # Errors
/// [`TrainError`].
pub fn load_partition(path: &Path, fm: &FeatureMatrix) -> Result<Vec<Fold>, TrainError> {
    let b = table::read_parquet(path, Some(&["protocol", "fold", "role", "file"]))?;
    let protocols = table::strings(path, &b, "protocol")?;
    let folds = table::ints(path, &b, "fold")?;
    let roles = table::strings(path, &b, "role")?;
    let files = table::strings(path, &b, "file")?;
    let row_of: BTreeMap<&str, usize> = fm.files.iter().enumerate().map(|(i, f)| (f.as_str(), i)).collect();
    // protocol -> fold -> (train, test)
    let mut sd: BTreeMap<(Protocol, i32), (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    let mut grouped: BTreeMap<Protocol, BTreeMap<i32, Vec<usize>>> = BTreeMap::new();
    for i in 0..b.num_rows() {
        let protocol = Protocol::parse(&protocols[i]).ok_or_else(|| TrainError::Data {
            path: path.to_path_buf(),
            message: format!("unknown protocol `{}`", protocols[i]),
        })?;
        let row = *row_of.get(files[i].as_str()).ok_or_else(|| TrainError::Data {
            path: path.to_path_buf(),
            message: format!("clip `{}` has no feature row", files[i]),
        })?;
        let fold = folds[i].unwrap_or(0) as i32;
        if protocol.speaker_independent() {
            grouped.entry(protocol).or_default().entry(fold).or_default().push(row);
        } else {
            let e = sd.entry((protocol, fold)).or_default();
            if roles[i] == "test" {
                e.1.push(row)
            } else {
                e.0.push(row)
            }
        }
    }
    let mut out: Vec<Fold> =
        sd.into_iter().map(|((protocol, fold), (train, test))| Fold { protocol, fold, train, test }).collect();
    for (protocol, folds) in grouped {
        for (&fold, test) in &folds {
            let mut train: Vec<usize> =
                folds.iter().filter(|(f, _)| **f != fold).flat_map(|(_, r)| r.iter().copied()).collect();
            train.sort_unstable();
            let mut test = test.clone();
            test.sort_unstable();
            out.push(Fold { protocol, fold, train, test });
        }
    }
    out.sort_by_key(|f| (f.protocol, f.fold));
    Ok(out)
}

/// The fields every entry of a training stage's `experiments.json` has,
/// centralized or federated (each stage flattens it into its own entry).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExperimentCore {
    /// `centralized-logistic-loso`, `federated-fedavg-logistic-loso`.
    pub id: String,
    /// Protocol.
    pub protocol: Protocol,
    /// Training mode.
    pub training: fedser_core::Training,
    /// `{name, library, params}`.
    pub model: serde_json::Value,
    /// Number of folds.
    pub folds: usize,
    /// Feature columns used.
    pub n_features: usize,
    /// Training rows summed over folds.
    pub n_train: usize,
    /// Wall time of the experiment, seconds.
    pub seconds: f64,
    /// Per-fold seconds.
    pub fold_seconds: Vec<f64>,
}

/// One test prediction of a training stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// Experiment id.
    pub experiment: String,
    /// Protocol.
    pub protocol: Protocol,
    /// Fold.
    pub fold: i32,
    /// Row of the feature matrix.
    pub row: usize,
    /// Predicted class index into `FeatureMatrix::classes`.
    pub pred: usize,
}

/// Writes a training stage's two outputs into `out_dir` (`parts`: the
/// predictions of each feature matrix they index): `predictions.parquet` (`experiment, protocol, fold, file, actor, label,
/// pred`, the schema the report reads) and `experiments.json`.
///
/// # Errors
/// [`TrainError`] when either file cannot be written.
pub fn write_predictions<M: serde::Serialize>(
    out_dir: &Path,
    parts: &[(&FeatureMatrix, &[Prediction])],
    metas: &[M],
    meta: &[(&str, String)],
) -> Result<(), TrainError> {
    use fedser_cache::table::Column;
    let path = out_dir.join("predictions.parquet");
    // every prediction with the feature matrix its row refers to
    let rows: Vec<(&FeatureMatrix, &Prediction)> =
        parts.iter().flat_map(|(fm, preds)| preds.iter().map(move |p| (*fm, p))).collect();
    let b = table::batch(
        &path,
        vec![
            ("experiment".into(), Column::Str(rows.iter().map(|(_, p)| p.experiment.clone()).collect())),
            ("protocol".into(), Column::Str(rows.iter().map(|(_, p)| p.protocol.as_str().to_owned()).collect())),
            ("fold".into(), Column::I32(rows.iter().map(|(_, p)| p.fold).collect())),
            ("file".into(), Column::Str(rows.iter().map(|(fm, p)| fm.files[p.row].clone()).collect())),
            ("actor".into(), Column::I32(rows.iter().map(|(fm, p)| fm.actors[p.row]).collect())),
            ("label".into(), Column::Str(rows.iter().map(|(fm, p)| fm.classes[fm.labels[p.row]].clone()).collect())),
            ("pred".into(), Column::Str(rows.iter().map(|(fm, p)| fm.classes[p.pred].clone()).collect())),
        ],
    )?;
    table::write_parquet(&path, &b, meta)?;
    let json_path = out_dir.join("experiments.json");
    let json = serde_json::to_vec_pretty(metas)
        .map_err(|e| TrainError::Json { path: json_path.clone(), message: e.to_string() })?;
    fedser_cache::atomic_write(&json_path, &json)?;
    Ok(())
}
