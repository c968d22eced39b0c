//! Feature rows kept on disk: every client reads its own shard when it
//! trains, as a device would, so a simulation holds only the shards being
//! trained on, not the whole corpus.
//!
//! A [`RowFile`] is an anonymous scratch file (unlinked at creation, so it
//! disappears with the process) of `f32` rows in the order given to
//! [`RowFile::create`]: list a client's rows together and its shard is one
//! positioned read. Reads and writes take `&self` (positioned I/O), so
//! clients read in parallel.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use fedser_cache::CacheError;

use crate::FedError;

const ABSENT: u32 = u32::MAX;

/// Rows of a feature table in a scratch file.
#[derive(Debug)]
pub struct RowFile {
    file: File,
    dir: PathBuf,
    d: usize,
    /// Slot in the file of every table row (`ABSENT` = not stored).
    slot_of: Vec<u32>,
    stored: usize,
    /// Slots `0..cached` also held in memory (see [`RowFile::cache_prefix`]).
    cache: Vec<f32>,
    cached: usize,
}

impl RowFile {
    /// An empty scratch file in `dir` for rows `rows` (indices into a table
    /// of `n_rows` rows, stored in this order) of `d` features each.
    ///
    /// # Errors
    /// [`FedError::Cache`] when the file cannot be created, or
    /// [`FedError::Data`] when a row is out of range or listed twice.
    pub fn create(dir: &Path, n_rows: usize, rows: &[usize], d: usize) -> Result<Self, FedError> {
        let bad = |message: String| FedError::Data { path: dir.to_path_buf(), message };
        let mut slot_of = vec![ABSENT; n_rows];
        for (slot, &r) in rows.iter().enumerate() {
            let s = slot_of.get_mut(r).ok_or_else(|| bad(format!("row {r} is out of range ({n_rows} rows)")))?;
            if *s != ABSENT {
                return Err(bad(format!("row {r} is listed twice")));
            }
            *s = u32::try_from(slot).map_err(|_| bad("more than 2^32 rows".into()))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| CacheError::io("cannot create", dir, e))?;
        let file = tempfile::tempfile_in(dir).map_err(|e| CacheError::io("cannot create a scratch file in", dir, e))?;
        file.set_len((rows.len() * d * 4) as u64)
            .map_err(|e| CacheError::io("cannot size a scratch file in", dir, e))?;
        Ok(Self { file, dir: dir.to_path_buf(), d, slot_of, stored: rows.len(), cache: Vec::new(), cached: 0 })
    }

    /// Features per row.
    #[must_use]
    pub fn d(&self) -> usize {
        self.d
    }

    /// Rows stored.
    #[must_use]
    pub fn len(&self) -> usize {
        self.stored
    }

    /// Whether no row is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.stored == 0
    }

    /// Whether table row `row` is stored.
    #[must_use]
    pub fn contains(&self, row: usize) -> bool {
        self.slot_of.get(row).is_some_and(|&s| s != ABSENT)
    }

    /// Writes features `first..first + values.len()` of table row `row`
    /// (ignored when the row is not stored).
    ///
    /// # Errors
    /// [`FedError::Cache`] on a write error, [`FedError::Data`] when the
    /// values do not fit the row.
    pub fn write(&self, row: usize, first: usize, values: &[f32]) -> Result<(), FedError> {
        let Some(&slot) = self.slot_of.get(row).filter(|&&s| s != ABSENT) else {
            return Ok(());
        };
        if first + values.len() > self.d {
            return Err(FedError::Data {
                path: self.dir.clone(),
                message: format!("features {first}..{} do not fit a row of {}", first + values.len(), self.d),
            });
        }
        let at = ((slot as usize * self.d + first) * 4) as u64;
        self.file.write_all_at(bytemuck::cast_slice(values), at).map_err(|e| self.io("cannot write", e))
    }

    /// Reads table rows `rows` into `buf` (row-major, resized to
    /// `rows.len() x d`); runs of rows stored next to each other are read
    /// with one call.
    ///
    /// # Errors
    /// [`FedError::Data`] when a row is not stored, [`FedError::Cache`] on a
    /// read error.
    pub fn read(&self, rows: &[usize], buf: &mut Vec<f32>) -> Result<(), FedError> {
        let d = self.d;
        // every value is overwritten below: only a longer buffer is filled
        buf.resize(rows.len() * d, 0.0);
        let mut i = 0;
        while i < rows.len() {
            let first = self.slot(rows[i])?;
            let mut j = i + 1;
            while j < rows.len() && self.slot(rows[j])? == first + (j - i) {
                j += 1;
            }
            let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut buf[i * d..j * d]);
            self.file.read_exact_at(bytes, (first * d * 4) as u64).map_err(|e| self.io("cannot read", e))?;
            i = j;
        }
        Ok(())
    }

    /// Keeps the first stored rows (in [`RowFile::create`]'s order) in
    /// memory, as many as fit in `max_bytes`; returns how many. Call it
    /// after the last write: a later write to a cached row is not seen by
    /// [`RowFile::shard`].
    ///
    /// # Errors
    /// [`FedError::Cache`] on a read error.
    pub fn cache_prefix(&mut self, max_bytes: usize) -> Result<usize, FedError> {
        let n = (max_bytes / (self.d * 4).max(1)).min(self.stored);
        let mut cache = vec![0f32; n * self.d];
        self.file.read_exact_at(bytemuck::cast_slice_mut(&mut cache), 0).map_err(|e| self.io("cannot read", e))?;
        self.cache = cache;
        self.cached = n;
        Ok(n)
    }

    /// Rows `rows`, row-major: straight from memory when they are cached
    /// slots stored one after another (no copy), else read into `buf`.
    ///
    /// # Errors
    /// As [`RowFile::read`].
    pub fn shard<'a>(&'a self, rows: &[usize], buf: &'a mut Vec<f32>) -> Result<&'a [f32], FedError> {
        if let Some(&first) = rows.first() {
            let s = self.slot(first)?;
            let end = s + rows.len();
            if end <= self.cached
                && rows.iter().enumerate().all(|(i, &r)| self.slot_of.get(r) == Some(&((s + i) as u32)))
            {
                return Ok(&self.cache[s * self.d..end * self.d]);
            }
        }
        self.read(rows, buf)?;
        Ok(buf)
    }

    fn slot(&self, row: usize) -> Result<usize, FedError> {
        match self.slot_of.get(row) {
            Some(&s) if s != ABSENT => Ok(s as usize),
            _ => Err(FedError::Data { path: self.dir.clone(), message: format!("row {row} is not in the row file") }),
        }
    }

    fn io(&self, op: &'static str, e: std::io::Error) -> FedError {
        FedError::Cache(CacheError::io(op, self.dir.join("<scratch rows>"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_in_any_order_and_runs() {
        let dir = tempfile::tempdir().unwrap();
        let d = 3;
        // table of 6 rows; rows 4, 0, 1, 3 stored (in that order); 2 and 5 not
        let f = RowFile::create(dir.path(), 6, &[4, 0, 1, 3], d).unwrap();
        assert_eq!(f.len(), 4);
        let value = |r: usize, j: usize| (r * 10 + j) as f32 + 0.5;
        for r in 0..6 {
            // written in two column passes, as the Parquet reader does
            f.write(r, 0, &[value(r, 0), value(r, 1)]).unwrap();
            f.write(r, 2, &[value(r, 2)]).unwrap();
        }
        let mut buf = Vec::new();
        for rows in [vec![4, 0, 1, 3], vec![3, 1], vec![0, 1], vec![1, 4, 0]] {
            f.read(&rows, &mut buf).unwrap();
            let want: Vec<f32> = rows.iter().flat_map(|&r| (0..d).map(move |j| value(r, j))).collect();
            assert_eq!(buf, want, "rows {rows:?}");
        }
        assert!(!f.contains(2) && f.contains(3) && !f.contains(99));
        // the first two slots (rows 4 and 0) in memory: a shard of them is a
        // view of the cache, anything else is read
        let mut f = f;
        assert_eq!(f.cache_prefix(2 * d * 4 + 5).unwrap(), 2);
        let mut scratch = Vec::new();
        let want: Vec<f32> = [4, 0].iter().flat_map(|&r| (0..d).map(move |j| value(r, j))).collect();
        let got = f.shard(&[4, 0], &mut scratch).unwrap().to_vec();
        assert_eq!(got, want);
        assert!(scratch.is_empty(), "served from memory");
        let got = f.shard(&[0, 1], &mut scratch).unwrap().to_vec();
        assert_eq!(got, [0, 1].iter().flat_map(|&r| (0..d).map(move |j| value(r, j))).collect::<Vec<_>>());
        assert_eq!(scratch.len(), 2 * d, "read from the file");
        let e = f.read(&[0, 2], &mut buf).unwrap_err().to_string();
        assert!(e.contains("row 2 is not in the row file"), "{e}");
        assert!(f.write(0, 2, &[1.0, 2.0]).unwrap_err().to_string().contains("do not fit"));
        assert!(RowFile::create(dir.path(), 3, &[0, 0], d).unwrap_err().to_string().contains("listed twice"));
        assert!(RowFile::create(dir.path(), 3, &[3], d).unwrap_err().to_string().contains("out of range"));
    }
}
