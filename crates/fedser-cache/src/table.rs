//! Parquet tables with arrow-rs: atomic writes with `fedser.*` key-value
//! metadata, whole-file reads and typed column access.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, LargeStringArray, RecordBatch,
    StringArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::{temp_path, CacheError, Result};

/// A column under construction.
#[derive(Debug, Clone)]
pub enum Column {
    /// Utf8.
    Str(Vec<String>),
    /// Nullable Utf8.
    OptStr(Vec<Option<String>>),
    /// Int32.
    I32(Vec<i32>),
    /// Nullable Int32.
    OptI32(Vec<Option<i32>>),
    /// Int64.
    I64(Vec<i64>),
    /// UInt64.
    U64(Vec<u64>),
    /// Float32.
    F32(Vec<f32>),
    /// Nullable Float32.
    OptF32(Vec<Option<f32>>),
    /// Float64.
    F64(Vec<f64>),
    /// Boolean.
    Bool(Vec<bool>),
}

impl Column {
    fn into_array(self) -> (DataType, bool, ArrayRef) {
        match self {
            Column::Str(v) => (DataType::Utf8, false, Arc::new(StringArray::from(v))),
            Column::OptStr(v) => (DataType::Utf8, true, Arc::new(StringArray::from(v))),
            Column::I32(v) => (DataType::Int32, false, Arc::new(Int32Array::from(v))),
            Column::OptI32(v) => (DataType::Int32, true, Arc::new(Int32Array::from(v))),
            Column::I64(v) => (DataType::Int64, false, Arc::new(Int64Array::from(v))),
            Column::U64(v) => (DataType::UInt64, false, Arc::new(UInt64Array::from(v))),
            Column::F32(v) => (DataType::Float32, false, Arc::new(Float32Array::from(v))),
            Column::OptF32(v) => (DataType::Float32, true, Arc::new(Float32Array::from(v))),
            Column::F64(v) => (DataType::Float64, false, Arc::new(Float64Array::from(v))),
            Column::Bool(v) => (DataType::Boolean, false, Arc::new(BooleanArray::from(v))),
        }
    }
}

/// Builds a batch from named columns (all the same length).
///
/// # Errors
/// [`CacheError::Arrow`] when lengths differ (the path names the table).
pub fn batch(path: &Path, columns: Vec<(String, Column)>) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays = Vec::with_capacity(columns.len());
    for (name, col) in columns {
        let (dt, nullable, arr) = col.into_array();
        fields.push(Field::new(name, dt, nullable));
        arrays.push(arr);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|source| CacheError::Arrow { path: path.to_path_buf(), source })
}

/// Writes `batch` to `path` atomically as zstd Parquet with `metadata` as
/// key-value metadata (`fedser.stage`, `fedser.version`, ...).
///
/// # Errors
/// [`CacheError::Io`] / [`CacheError::Parquet`] naming the path.
pub fn write_parquet(path: &Path, batch: &RecordBatch, metadata: &[(&str, String)]) -> Result<()> {
    let mut w = ParquetStream::create(path, batch.schema(), metadata, 2048)?;
    w.write(batch)?;
    w.finish()
}

/// Page compression of a [`ParquetStream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// zstd level 3 (every table but the wide feature tables).
    Zstd,
    /// No compression. For the wide float feature tables: zstd shrinks
    /// their columns by only about 12 %, while the writer keeps one zstd
    /// compression context per column of the open row group (about 50 KB
    /// each, 6,373 columns) and every reader one decompression context per
    /// column being decoded. Measured on 4,096 x 6,373 floats: peak 327 MB
    /// (zstd) against 142 MB uncompressed, 2,048-row groups.
    None,
}

/// A Parquet table written batch by batch (zstd, like [`write_parquet`],
/// unless created with [`Codec::None`]), for tables too large to hold in
/// memory: the writer flushes a row group every `row_group_rows` rows. The
/// file appears atomically at [`ParquetStream::finish`]; dropped unfinished,
/// the temp file is removed.
pub struct ParquetStream {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    writer: Option<ArrowWriter<File>>,
}

impl ParquetStream {
    /// Starts a table at `path` (its temp file next to it) with `schema` and
    /// `metadata` as key-value metadata.
    ///
    /// # Errors
    /// [`CacheError::Io`] / [`CacheError::Parquet`] naming the path.
    pub fn create(
        path: &Path,
        schema: arrow_schema::SchemaRef,
        metadata: &[(&str, String)],
        row_group_rows: usize,
    ) -> Result<Self> {
        Self::create_with(path, schema, metadata, row_group_rows, Codec::Zstd)
    }

    /// [`ParquetStream::create`] with the page compression `codec`.
    ///
    /// # Errors
    /// [`CacheError::Io`] / [`CacheError::Parquet`] naming the path.
    pub fn create_with(
        path: &Path,
        schema: arrow_schema::SchemaRef,
        metadata: &[(&str, String)],
        row_group_rows: usize,
        codec: Codec,
    ) -> Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CacheError::io("cannot create folder", parent, e))?;
        }
        let tmp = temp_path(path);
        let kv: Vec<KeyValue> = metadata.iter().map(|(k, v)| KeyValue::new((*k).to_owned(), v.clone())).collect();
        // Wide tables (6,000+ columns): no statistics, no dictionaries (float
        // columns barely repeat), and bounded row groups so the writer
        // flushes as it goes instead of buffering the whole encoded table.
        let props = WriterProperties::builder()
            .set_compression(match codec {
                Codec::Zstd => Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()),
                Codec::None => Compression::UNCOMPRESSED,
            })
            .set_statistics_enabled(parquet::file::properties::EnabledStatistics::None)
            .set_dictionary_enabled(false)
            .set_max_row_group_row_count(Some(row_group_rows.max(1)))
            .set_key_value_metadata(Some(kv))
            .build();
        let file = File::create(&tmp).map_err(|e| CacheError::io("cannot write", path, e))?;
        let mut s = Self { path: path.to_path_buf(), tmp, writer: None };
        let w = ArrowWriter::try_new(file, schema, Some(props))
            .map_err(|source| CacheError::Parquet { path: path.to_path_buf(), source })?;
        s.writer = Some(w);
        Ok(s)
    }

    /// Appends a batch (same schema as at [`ParquetStream::create`]).
    ///
    /// # Errors
    /// [`CacheError::Parquet`] naming the path.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let path = &self.path;
        match self.writer.as_mut() {
            Some(w) => w.write(batch).map_err(|source| CacheError::Parquet { path: path.clone(), source }),
            None => Ok(()),
        }
    }

    /// Closes the file, syncs it and renames it into place.
    ///
    /// # Errors
    /// [`CacheError::Io`] / [`CacheError::Parquet`] naming the path.
    pub fn finish(mut self) -> Result<()> {
        let Some(w) = self.writer.take() else { return Ok(()) };
        let path = self.path.clone();
        let file = w.into_inner().map_err(|source| CacheError::Parquet { path: path.clone(), source })?;
        file.sync_all().map_err(|e| CacheError::io("cannot write", &path, e))?;
        std::fs::rename(&self.tmp, &path).map_err(|e| CacheError::io("cannot rename into", &path, e))?;
        // Renamed: nothing left for Drop to clean up.
        self.tmp = std::path::PathBuf::new();
        Ok(())
    }
}

impl Drop for ParquetStream {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Columns decoded at once by [`read_parquet`] and [`stream_columns`].
///
/// Every column being decoded holds its own zstd decompression context
/// (about 100 KB), so reading a 6,373-column feature table in one pass costs
/// over 600 MB before a single value is stored. Passes of this many columns
/// bound that to about 25 MB.
pub const COLUMNS_PER_PASS: usize = 256;

/// The schema of a Parquet file (as arrow fields).
///
/// # Errors
/// [`CacheError::Io`], [`CacheError::Parquet`].
pub fn read_schema(path: &Path) -> Result<Arc<Schema>> {
    let file = File::open(path).map_err(|e| CacheError::io("cannot read", path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|source| CacheError::Parquet { path: path.to_path_buf(), source })?;
    Ok(builder.schema().clone())
}

/// Streams columns `columns` (indices of the file's top-level fields) in
/// passes of at most `per_pass` columns, `batch_rows` rows at a time: `f`
/// gets the first row of the chunk, the position in `columns` of the chunk's
/// first column, and the chunk's arrays (in `columns` order). Every row
/// group is read once per pass; only one pass's decoders are alive at a
/// time, so memory is bounded by `per_pass x batch_rows`, not by the table.
///
/// # Errors
/// [`CacheError::Io`], [`CacheError::Parquet`], [`CacheError::Arrow`], and
/// whatever `f` returns.
pub fn stream_columns(
    path: &Path,
    columns: &[usize],
    per_pass: usize,
    batch_rows: usize,
    mut f: impl FnMut(usize, usize, &[ArrayRef]) -> Result<()>,
) -> Result<()> {
    let pq = |source| CacheError::Parquet { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(|e| CacheError::io("cannot read", path, e))?;
    // the footer is parsed once and shared by every pass: a wide table's is
    // megabytes (6,379 columns x 4 row groups: 3 MB), so parsing it per pass
    // cost most of the read and left the heap fragmented
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default()).map_err(pq)?;
    for (p, pass) in columns.chunks(per_pass.max(1)).enumerate() {
        let input = file.try_clone().map_err(|e| CacheError::io("cannot read", path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(input, meta.clone());
        let n_fields = builder.schema().fields().len();
        if let Some(&bad) = pass.iter().find(|&&i| i >= n_fields) {
            return Err(CacheError::Column {
                path: path.to_path_buf(),
                column: format!("#{bad}"),
                problem: format!("is out of range: the table has {n_fields} columns"),
            });
        }
        // the projection returns columns in file order: map them back to `pass` order
        let mut sorted: Vec<usize> = pass.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let order: Vec<usize> = pass.iter().map(|i| sorted.binary_search(i).unwrap_or(0)).collect();
        let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), sorted.iter().copied());
        let reader = builder.with_projection(mask).with_batch_size(batch_rows.max(1)).build().map_err(pq)?;
        let mut row = 0;
        for batch in reader {
            let b = batch.map_err(|source| CacheError::Arrow { path: path.to_path_buf(), source })?;
            let arrays: Vec<ArrayRef> = order.iter().map(|&j| b.column(j).clone()).collect();
            f(row, p * per_pass.max(1), &arrays)?;
            row += b.num_rows();
        }
    }
    Ok(())
}

/// Reads a whole Parquet file into one batch, optionally only some columns
/// (by name; unknown names are an error). Wide tables are read
/// [`COLUMNS_PER_PASS`] columns at a time (see [`stream_columns`]).
///
/// # Errors
/// [`CacheError::Io`], [`CacheError::Parquet`], [`CacheError::Column`].
pub fn read_parquet(path: &Path, columns: Option<&[&str]>) -> Result<RecordBatch> {
    let schema = read_schema(path)?;
    let idx: Vec<usize> = match columns {
        Some(cols) => cols
            .iter()
            .map(|c| {
                schema.index_of(c).map_err(|_| CacheError::Column {
                    path: path.to_path_buf(),
                    column: (*c).to_owned(),
                    problem: "is missing".into(),
                })
            })
            .collect::<Result<_>>()?,
        None => (0..schema.fields().len()).collect(),
    };
    let out_schema = Arc::new(Schema::new(idx.iter().map(|&i| schema.field(i).clone()).collect::<Vec<Field>>()));
    let mut parts: Vec<Vec<ArrayRef>> = vec![Vec::new(); idx.len()];
    stream_columns(path, &idx, COLUMNS_PER_PASS, 1 << 16, |_, first, arrays| {
        for (j, a) in arrays.iter().enumerate() {
            parts[first + j].push(a.clone());
        }
        Ok(())
    })?;
    if idx.is_empty() || parts.iter().any(Vec::is_empty) {
        // no columns asked for, or a table without rows
        return Ok(RecordBatch::new_empty(out_schema));
    }
    let arrow = |source| CacheError::Arrow { path: path.to_path_buf(), source };
    let cols: Vec<ArrayRef> = parts
        .iter()
        .map(|p| match p.as_slice() {
            [one] => Ok(one.clone()),
            many => {
                let refs: Vec<&dyn Array> = many.iter().map(AsRef::as_ref).collect();
                arrow_select::concat::concat(&refs).map_err(arrow)
            }
        })
        .collect::<Result<_>>()?;
    // the file's nullability is what the arrays carry
    RecordBatch::try_new(out_schema, cols).map_err(arrow)
}

/// Reads the key-value metadata of a Parquet file.
///
/// # Errors
/// [`CacheError::Io`], [`CacheError::Parquet`].
pub fn read_metadata(path: &Path) -> Result<Vec<(String, String)>> {
    let file = File::open(path).map_err(|e| CacheError::io("cannot read", path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|source| CacheError::Parquet { path: path.to_path_buf(), source })?;
    Ok(builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| kv.iter().map(|k| (k.key.clone(), k.value.clone().unwrap_or_default())).collect())
        .unwrap_or_default())
}

fn col<'a>(path: &Path, b: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    b.column_by_name(name).ok_or_else(|| CacheError::Column {
        path: path.to_path_buf(),
        column: name.to_owned(),
        problem: "is missing".into(),
    })
}

fn wrong(path: &Path, name: &str, want: &str) -> CacheError {
    CacheError::Column { path: path.to_path_buf(), column: name.to_owned(), problem: format!("is not {want}") }
}

/// A Utf8 column as strings (nulls become empty).
///
/// # Errors
/// [`CacheError::Column`] when missing or of another type.
pub fn strings(path: &Path, b: &RecordBatch, name: &str) -> Result<Vec<String>> {
    Ok(opt_strings(path, b, name)?.into_iter().map(Option::unwrap_or_default).collect())
}

/// A nullable Utf8 column.
///
/// # Errors
/// [`CacheError::Column`] when missing or of another type.
pub fn opt_strings(path: &Path, b: &RecordBatch, name: &str) -> Result<Vec<Option<String>>> {
    let a = col(path, b, name)?;
    // Utf8, or LargeUtf8 as pandas/pyarrow write it (openSMILE's reference tables).
    if let Some(s) = a.as_any().downcast_ref::<StringArray>() {
        return Ok((0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i).to_owned())).collect());
    }
    let s = a.as_any().downcast_ref::<LargeStringArray>().ok_or_else(|| wrong(path, name, "Utf8 or LargeUtf8"))?;
    Ok((0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i).to_owned())).collect())
}

/// An integer column (Int32 or Int64) as i64 (nulls become `None`).
///
/// # Errors
/// [`CacheError::Column`] when missing or not an integer.
pub fn ints(path: &Path, b: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>> {
    let a = col(path, b, name)?;
    if let Some(x) = a.as_any().downcast_ref::<Int32Array>() {
        return Ok((0..x.len()).map(|i| (!x.is_null(i)).then(|| i64::from(x.value(i)))).collect());
    }
    if let Some(x) = a.as_any().downcast_ref::<Int64Array>() {
        return Ok((0..x.len()).map(|i| (!x.is_null(i)).then(|| x.value(i))).collect());
    }
    Err(wrong(path, name, "an integer"))
}

/// A float column (Float32 or Float64) as f64 (nulls become NaN).
///
/// # Errors
/// [`CacheError::Column`] when missing or not a float.
pub fn floats(path: &Path, b: &RecordBatch, name: &str) -> Result<Vec<f64>> {
    let a = col(path, b, name)?;
    if let Some(x) = a.as_any().downcast_ref::<Float32Array>() {
        return Ok((0..x.len()).map(|i| if x.is_null(i) { f64::NAN } else { f64::from(x.value(i)) }).collect());
    }
    if let Some(x) = a.as_any().downcast_ref::<Float64Array>() {
        return Ok((0..x.len()).map(|i| if x.is_null(i) { f64::NAN } else { x.value(i) }).collect());
    }
    Err(wrong(path, name, "a float"))
}

/// A Float32 column by index, appended into `out` (for wide tables).
///
/// # Errors
/// [`CacheError::Column`] when not Float32.
pub fn f32_column<'a>(path: &Path, b: &'a RecordBatch, index: usize) -> Result<&'a Float32Array> {
    let name = b.schema().field(index).name().clone();
    b.column(index).as_any().downcast_ref::<Float32Array>().ok_or_else(|| wrong(path, &name, "Float32"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_writes_row_groups_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.parquet");
        let part = |k: i32| {
            batch(
                &p,
                vec![
                    ("frame".into(), Column::I32(vec![k, k + 1, k + 2])),
                    ("x".into(), Column::OptF32(vec![Some(k as f32), None, Some(0.5)])),
                ],
            )
            .unwrap()
        };
        let mut w = ParquetStream::create(&p, part(0).schema(), &[("fedser.stage", "t".into())], 4).unwrap();
        for k in [0, 10, 20] {
            w.write(&part(k)).unwrap();
        }
        assert!(!p.exists(), "the table appears only at finish");
        w.finish().unwrap();
        let r = read_parquet(&p, None).unwrap();
        assert_eq!(r.num_rows(), 9);
        assert_eq!(ints(&p, &r, "frame").unwrap()[3..6], [Some(10), Some(11), Some(12)]);
        let x = f32_column(&p, &r, 1).unwrap();
        assert_eq!((x.null_count(), x.value(6)), (3, 20.0));
        // Dropped unfinished: no table and no temp file left behind.
        let q = dir.path().join("u.parquet");
        let mut w = ParquetStream::create(&q, part(0).schema(), &[], 4).unwrap();
        w.write(&part(0)).unwrap();
        drop(w);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("s.parquet")]);
    }

    #[test]
    fn wide_tables_are_read_in_column_passes_with_the_same_values() {
        // wider than one pass, several row groups, a null: read_parquet and
        // stream_columns must give back exactly what was written
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.parquet");
        let (n, width) = (700, COLUMNS_PER_PASS * 2 + 3);
        let value = |r: usize, j: usize| (r * 1000 + j) as f32 * 0.5;
        let mut cols = vec![("file".to_owned(), Column::Str((0..n).map(|r| format!("c{r}")).collect()))];
        for j in 0..width {
            let v = (0..n).map(|r| (r != 5 || j != 1).then(|| value(r, j))).collect();
            cols.push((format!("f{j}"), Column::OptF32(v)));
        }
        let b = batch(&p, cols).unwrap();
        let schema = b.schema();
        let mut w = ParquetStream::create(&p, schema, &[], 256).unwrap();
        w.write(&b).unwrap();
        w.finish().unwrap();
        let r = read_parquet(&p, None).unwrap();
        assert_eq!(r, b);
        // a projection in another order than the file's
        let proj = read_parquet(&p, Some(&["f500", "file", "f2"])).unwrap();
        assert_eq!(proj.schema().field(0).name(), "f500");
        assert_eq!(floats(&p, &proj, "f500").unwrap()[699], f64::from(value(699, 500)));
        assert_eq!(strings(&p, &proj, "file").unwrap()[3], "c3");
        // streaming, 7 columns x 100 rows at a time, columns in a chosen order
        let want: Vec<usize> = (1..=width).rev().step_by(3).collect();
        let mut got = vec![vec![f32::NAN; want.len()]; n];
        let mut calls = 0;
        stream_columns(&p, &want, 7, 100, |row0, first, arrays| {
            calls += 1;
            assert!(arrays.len() <= 7 && arrays[0].len() <= 100);
            for (j, a) in arrays.iter().enumerate() {
                let a = a.as_any().downcast_ref::<Float32Array>().unwrap();
                for i in 0..a.len() {
                    got[row0 + i][first + j] = if a.is_null(i) { -1.0 } else { a.value(i) };
                }
            }
            Ok(())
        })
        .unwrap();
        assert!(calls >= want.len().div_ceil(7) * 7, "{calls} chunks");
        for (r, row) in got.iter().enumerate() {
            for (j, &c) in want.iter().enumerate() {
                let expect = if r == 5 && c == 2 { -1.0 } else { value(r, c - 1) };
                assert_eq!(row[j], expect, "row {r} column {c}");
            }
        }
        let e = stream_columns(&p, &[width + 1], 7, 100, |_, _, _| Ok(())).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
        // a table without rows reads as an empty batch with its schema
        let q = dir.path().join("empty.parquet");
        let empty = batch(&q, vec![("file".into(), Column::Str(vec![])), ("x".into(), Column::F32(vec![]))]).unwrap();
        write_parquet(&q, &empty, &[]).unwrap();
        let r = read_parquet(&q, None).unwrap();
        assert_eq!((r.num_rows(), r.num_columns()), (0, 2));
    }

    #[test]
    fn streams_row_groups_with_the_chosen_codec() {
        let dir = tempfile::tempdir().unwrap();
        for (codec, want) in [(Codec::Zstd, "ZSTD"), (Codec::None, "UNCOMPRESSED")] {
            let p = dir.path().join(format!("{want}.parquet"));
            let mk = |r: std::ops::Range<usize>| {
                batch(
                    &p,
                    vec![
                        ("i".into(), Column::I32(r.clone().map(|v| v as i32).collect())),
                        ("x".into(), Column::F32(r.map(|v| v as f32 * 0.5).collect())),
                    ],
                )
                .unwrap()
            };
            let b0 = mk(0..5);
            let mut w = ParquetStream::create_with(&p, b0.schema(), &[("k", "v".into())], 3, codec).unwrap();
            w.write(&b0).unwrap();
            w.write(&mk(5..7)).unwrap();
            assert!(!p.exists(), "the table appears only when finished");
            w.finish().unwrap();
            let meta = ArrowReaderMetadata::load(&File::open(&p).unwrap(), ArrowReaderOptions::default()).unwrap();
            let md = meta.metadata();
            // 7 rows in groups of at most 3
            let rows: Vec<i64> = md.row_groups().iter().map(|g| g.num_rows()).collect();
            assert_eq!(rows, vec![3, 3, 1]);
            for g in md.row_groups() {
                for c in g.columns() {
                    assert!(format!("{:?}", c.compression()).starts_with(want), "{:?}", c.compression());
                }
            }
            let r = read_parquet(&p, None).unwrap();
            assert_eq!(ints(&p, &r, "i").unwrap(), (0..7).map(Some).collect::<Vec<_>>());
            assert_eq!(floats(&p, &r, "x").unwrap(), (0..7).map(|v| v as f64 * 0.5).collect::<Vec<_>>());
            assert!(read_metadata(&p).unwrap().contains(&("k".into(), "v".into())));
        }
    }

    #[test]
    fn round_trips_with_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        let b = batch(
            &p,
            vec![
                ("file".into(), Column::Str(vec!["a".into(), "b".into()])),
                ("actor".into(), Column::I32(vec![1001, 1002])),
                ("x".into(), Column::F32(vec![0.5, 1.5])),
                ("sex".into(), Column::OptStr(vec![Some("Male".into()), None])),
            ],
        )
        .unwrap();
        write_parquet(&p, &b, &[("fedser.stage", "test".into())]).unwrap();
        let r = read_parquet(&p, None).unwrap();
        assert_eq!(r.num_rows(), 2);
        assert_eq!(strings(&p, &r, "file").unwrap(), vec!["a", "b"]);
        assert_eq!(ints(&p, &r, "actor").unwrap(), vec![Some(1001), Some(1002)]);
        assert_eq!(floats(&p, &r, "x").unwrap(), vec![0.5, 1.5]);
        assert_eq!(opt_strings(&p, &r, "sex").unwrap(), vec![Some("Male".into()), None]);
        let proj = read_parquet(&p, Some(&["x"])).unwrap();
        assert_eq!(proj.num_columns(), 1);
        assert!(read_parquet(&p, Some(&["nope"])).is_err());
        assert!(read_metadata(&p).unwrap().contains(&("fedser.stage".into(), "test".into())));
        assert!(strings(&p, &r, "actor").is_err());
    }
}
