//! Opening the files plugins read: regular files only (not `/dev/zero`, a FIFO or a folder),
//! gunzipped when the name ends in `.gz`, and never more bytes than the machine has memory
//! (rnnlab holds a dataset in memory, so a larger file could only end in an abort).

use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use rnnlab_spec::files::io_text;

use crate::base::DataError;

/// Bytes of memory this machine has (`MemTotal` of /proc/meminfo), if known; read once per
/// process (a plan checks it for every grid point).
pub fn memory_total() -> Option<u64> {
    static TOTAL: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *TOTAL.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    })
}

/// The most bytes one data file may hold (after gunzipping): the machine's memory, or 64 GiB
/// where it is unknown. `RNNLAB_MAX_DATA_BYTES` overrides it (tests use it).
pub fn max_bytes() -> u64 {
    std::env::var("RNNLAB_MAX_DATA_BYTES").ok().and_then(|v| v.parse().ok()).or_else(memory_total).unwrap_or(64 << 30)
}

/// `dir/name`, else `dir/name.gz`, whichever exists.
pub fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))].into_iter().find(|p| p.exists())
}

/// Opens `path` for reading (see the module doc); `.gz` files are decompressed on the fly.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, DataError> {
    let fail = |what: String| DataError::Other(format!("{}: {what}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| fail(io_text(&e)))?;
    if !meta.is_file() {
        let kind = if meta.is_dir() { "a folder" } else { "not a regular file (a device, FIFO or socket)" };
        return Err(fail(format!("is {kind}; give the path of a data file")));
    }
    let limit = max_bytes();
    let gz = path.extension().is_some_and(|e| e == "gz");
    if !gz && meta.len() > limit {
        return Err(fail(too_large(limit)));
    }
    let file = std::fs::File::open(path).map_err(|e| fail(io_text(&e)))?;
    let reader: Box<dyn Read + Send> =
        if gz { Box::new(flate2::read::GzDecoder::new(BufReader::new(file))) } else { Box::new(BufReader::new(file)) };
    Ok(Box::new(Bounded { inner: reader, left: limit }))
}

/// The whole (decompressed) content of `path`.
pub fn read_all(path: &Path) -> Result<Vec<u8>, DataError> {
    let mut bytes = Vec::new();
    open(path)?.read_to_end(&mut bytes).map_err(|e| DataError::Other(format!("{}: {e}", path.display())))?;
    Ok(bytes)
}

/// A csv crate error as `file:line: what` (just `file: what` where it has no position), its
/// text once.
pub fn csv_error(path: &Path, e: &csv::Error) -> DataError {
    let at = match e.position() {
        Some(p) => format!("{}:{}", path.display(), p.line()),
        None => path.display().to_string(),
    };
    let what = match e.kind() {
        csv::ErrorKind::Io(io) => io_text(io),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("a row with {len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8 text (field {})", err.field() + 1),
        _ => e.to_string(),
    };
    DataError::Other(format!("{at}: {what}"))
}

fn too_large(limit: u64) -> String {
    format!(
        "holds more than {:.1} GiB, this machine's memory; rnnlab reads a data file whole, so split it or use a larger machine",
        limit as f64 / (1u64 << 30) as f64
    )
}

/// A reader that fails once more than `left` bytes were read (a gzip bomb, a huge file).
struct Bounded {
    inner: Box<dyn Read + Send>,
    left: u64,
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(io::Error::other(too_large(max_bytes())));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_folders_are_refused_not_read() {
        let e = open(Path::new("/dev/zero")).err().expect("refused").to_string();
        assert!(e.contains("/dev/zero") && e.contains("not a regular file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = open(dir.path()).err().expect("refused").to_string();
        assert!(e.contains("is a folder"), "{e}");
        let e = open(&dir.path().join("nope.csv")).err().expect("refused").to_string();
        assert!(e.ends_with("No such file or directory"), "{e}");
    }

    #[test]
    fn gzip_is_read_by_name_and_bounded_after_decompression() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv.gz");
        let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), Default::default());
        gz.write_all(&vec![b'a'; 1 << 20]).unwrap();
        gz.finish().unwrap();
        assert_eq!(read_all(&path).unwrap().len(), 1 << 20);
        assert_eq!(find(dir.path(), "x.csv"), Some(path.clone()));
        // A 1 MiB file compresses to ~1 KiB: the bound is on what it expands to.
        let mut r = Bounded { inner: open(&path).unwrap(), left: 1000 };
        let e = r.read_to_end(&mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("more than"), "{e}");
    }
}
