//! `mnist`: MNIST (or Fashion-MNIST) digits read row by row (28 steps of 28 pixels, as the
//! TensorFlow tutorials do) or pixel by pixel (784 steps, optionally permuted), 10-way
//! classification at the last step. Reads the four IDX files, raw or `.gz`, from `data_dir`;
//! `just data mnist` / `just data fashion-mnist` put them there.
//!
//! (Over 300 lines: the IDX reader, both layouts and the permutation are one format and stay
//! together; a quarter of the file is tests on synthetic IDX files.)

use std::io::Read;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use rnnlab_spec::{decode, FieldError};

use crate::base::{DataError, Dataset, Input, LossReduction, Plugin, SequenceSet, Targets, Task};

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Variant {
    /// MNIST.
    #[default]
    Digits,
    /// Fashion-MNIST.
    Fashion,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Layout {
    /// 28 steps of 28 pixels.
    #[default]
    Rows,
    /// 784 steps of 1 pixel.
    Pixels,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Which image set.
    #[serde(default)]
    variant: Variant,
    /// Folder with the four IDX files, raw or `.gz` (default: `$RNNLAB_DATA/mnist`, else `data/mnist`; `fashion-mnist` for `variant = "fashion"`); `just data mnist` fetches them.
    data_dir: Option<String>,
    /// How an image becomes a sequence.
    #[serde(default)]
    layout: Layout,
    /// `pixels` only: a fixed random permutation of the 784 steps (permuted MNIST).
    #[serde(default)]
    permute: bool,
    /// Seed of that permutation (shared by every trial).
    #[serde(default)]
    permute_seed: u64,
    /// The first training images, held out as the validation split (`valid_*` metrics; Géron holds out 5000).
    #[serde(default)]
    n_validation: usize,
    /// Train on the first n of the remaining training images (default: all).
    n_train: Option<usize>,
    /// Test on the first n test images (default: all 10,000).
    n_test: Option<usize>,
}

const TRAIN_SIZE: usize = 60_000;
const TEST_SIZE: usize = 10_000;

impl Config {
    fn read(keys: &toml::Table) -> Result<Config, FieldError> {
        let c: Config = decode(keys)?;
        if c.permute && c.layout != Layout::Pixels {
            return Err(FieldError::new(&["permute"], "permuting needs `layout = \"pixels\"`")
                .with_help("set `layout = \"pixels\"` (784 steps of one pixel) for permuted MNIST"));
        }
        if c.n_validation >= TRAIN_SIZE {
            return Err(FieldError::new(&["n_validation"], format!("must be below the {TRAIN_SIZE} training images")));
        }
        if let Some(n) = c.n_train {
            if n == 0 || n > TRAIN_SIZE - c.n_validation {
                return Err(FieldError::new(
                    &["n_train"],
                    format!(
                        "must be between 1 and {} (training images left after validation)",
                        TRAIN_SIZE - c.n_validation
                    ),
                ));
            }
        }
        if let Some(n) = c.n_test {
            if n == 0 || n > TEST_SIZE {
                return Err(FieldError::new(&["n_test"], format!("must be between 1 and {TEST_SIZE}")));
            }
        }
        Ok(c)
    }

    /// `data_dir`, else `$RNNLAB_DATA/<variant>`, else `data/<variant>`.
    fn dir(&self) -> PathBuf {
        let name = match self.variant {
            Variant::Digits => "mnist",
            Variant::Fashion => "fashion-mnist",
        };
        match (&self.data_dir, std::env::var_os("RNNLAB_DATA")) {
            (Some(d), _) => PathBuf::from(d),
            (None, Some(root)) => PathBuf::from(root).join(name),
            (None, None) => PathBuf::from("data").join(name),
        }
    }

    fn fetch_hint(&self) -> &'static str {
        match self.variant {
            Variant::Digits => "run `just data mnist`",
            Variant::Fashion => "run `just data fashion-mnist`",
        }
    }
}

const TASK: Task = Task::Classify { classes: 10, per_step: false };

/// The `mnist` plugin.
pub struct Mnist;

impl Plugin for Mnist {
    fn name(&self) -> &'static str {
        "mnist"
    }

    fn doc(&self) -> &'static str {
        "MNIST / Fashion-MNIST read by rows (28×28) or pixels (784×1, optionally permuted); 10 classes at the last step"
    }

    fn keys(&self) -> schemars::Schema {
        rnnlab_spec::reference::schema_of::<Config>()
    }

    fn example(&self) -> &'static str {
        "plugin = \"mnist\"\nlayout = \"rows\"\n"
    }

    fn has_validation(&self, keys: &toml::Table) -> bool {
        Config::read(keys).is_ok_and(|c| c.n_validation > 0)
    }

    fn input_size(&self, keys: &toml::Table) -> Option<usize> {
        Config::read(keys).ok().map(|c| if c.layout == Layout::Rows { 28 } else { 1 })
    }

    fn check(&self, keys: &toml::Table) -> Result<Task, FieldError> {
        Config::read(keys).map(|_| TASK)
    }

    fn build(&self, keys: &toml::Table, _seed: u64) -> Result<Dataset, DataError> {
        let c = Config::read(keys).map_err(DataError::Config)?;
        let [train_x, train_y, test_x, test_y] = read_files(&c)?;
        let start = c.n_validation;
        let end = c.n_train.map_or(TRAIN_SIZE, |n| start + n);
        Ok(Dataset {
            task: TASK,
            train: sequences(&c, &train_x, Some(&train_y), start..end),
            valid: (start > 0).then(|| sequences(&c, &train_x, Some(&train_y), 0..start)),
            test: sequences(&c, &test_x, Some(&test_y), 0..c.n_test.unwrap_or(TEST_SIZE)),
            loss_reduction: LossReduction::Mean,
        })
    }

    fn reads_files(&self) -> bool {
        true
    }

    /// Reads and checks the four IDX files (sizes, dimensions, labels), placed at `data_dir`.
    fn check_files(&self, keys: &toml::Table) -> Result<(), FieldError> {
        let c = Config::read(keys)?;
        read_files(&c).map(|_| ()).map_err(|e| FieldError::new(&["data_dir"], e.to_string()))
    }

    /// An IDX image file (raw or `.gz`); labels are read from the file beside it with
    /// `images-idx3` replaced by `labels-idx1` in its name, when there is one.
    fn read_input(&self, keys: &toml::Table, path: &Path) -> Result<Input, DataError> {
        let c = Config::read(keys).map_err(DataError::Config)?;
        let hint = "give an IDX file of 28×28 images (as `just data mnist` fetches)";
        let images = read_idx_file(path, hint)?;
        if images.dims.len() != 3 || images.dims[1..] != [28, 28] {
            return Err(DataError::Other(format!(
                "{}: dimensions {:?}, expected [N, 28, 28]: {hint}",
                path.display(),
                images.dims
            )));
        }
        let n = images.dims[0];
        let name = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let label_path = path.with_file_name(name.replace("images-idx3", "labels-idx1"));
        let labels = if name.contains("images-idx3") && label_path.exists() {
            let labels = read_idx_file(&label_path, hint)?;
            labels.expect(&[n], hint)?;
            labels.expect_labels(hint)?;
            Some(labels)
        } else {
            None
        };
        Ok(Input {
            set: sequences(&c, &images, labels.as_ref(), 0..n),
            ids: (0..n).map(|i| i.to_string()).collect(),
            labelled: labels.is_some(),
        })
    }
}

/// Images `range` as sequences of rows or pixels (permuted with the fixed `permute_seed`),
/// scaled to [0, 1]; labels zero when there are none.
/// The training images and labels, then the test ones, checked (dimensions, label range).
fn read_files(c: &Config) -> Result<[Idx; 4], DataError> {
    let dir = c.dir();
    let hint = c.fetch_hint();
    let (train_x, train_y) =
        (read_idx(&dir, "train-images-idx3-ubyte", hint)?, read_idx(&dir, "train-labels-idx1-ubyte", hint)?);
    let (test_x, test_y) =
        (read_idx(&dir, "t10k-images-idx3-ubyte", hint)?, read_idx(&dir, "t10k-labels-idx1-ubyte", hint)?);
    for (images, labels, n) in [(&train_x, &train_y, TRAIN_SIZE), (&test_x, &test_y, TEST_SIZE)] {
        images.expect(&[n, 28, 28], hint)?;
        labels.expect(&[n], hint)?;
        labels.expect_labels(hint)?;
    }
    Ok([train_x, train_y, test_x, test_y])
}

fn sequences(c: &Config, images: &Idx, labels: Option<&Idx>, range: std::ops::Range<usize>) -> SequenceSet {
    let order: Vec<usize> = if c.permute {
        let mut p: Vec<usize> = (0..784).collect();
        p.shuffle(&mut StdRng::seed_from_u64(c.permute_seed));
        p
    } else {
        (0..784).collect()
    };
    let (steps, width) = match c.layout {
        Layout::Rows => (28, 28),
        Layout::Pixels => (784, 1),
    };
    let mut inputs = Vec::with_capacity(range.len() * 784);
    for i in range.clone() {
        let img = &images.data[i * 784..(i + 1) * 784];
        inputs.extend(order.iter().map(|&p| img[p] as f32 / 255.0));
    }
    let targets = Targets::Classes(match labels {
        Some(l) => l.data[range.clone()].iter().map(|&l| l as u32).collect(),
        None => vec![0; range.len()],
    });
    SequenceSet { lengths: None, len: range.len(), steps, input_size: width, inputs, targets }
}

/// An IDX file of unsigned bytes: its dimensions and data.
#[derive(Debug)]
struct Idx {
    path: PathBuf,
    dims: Vec<usize>,
    data: Vec<u8>,
}

impl Idx {
    /// Every byte a digit class 0..9.
    fn expect_labels(&self, hint: &str) -> Result<(), DataError> {
        match self.data.iter().position(|&l| l >= 10) {
            Some(i) => Err(DataError::Other(format!(
                "{}: label {} of item {i} is not a class 0..9 (a damaged or different file: {hint} again)",
                self.path.display(),
                self.data[i]
            ))),
            None => Ok(()),
        }
    }

    fn expect(&self, dims: &[usize], hint: &str) -> Result<(), DataError> {
        if self.dims != dims {
            return Err(DataError::Other(format!(
                "{}: dimensions {:?}, expected {dims:?} (a different or damaged file: {hint} again)",
                self.path.display(),
                self.dims
            )));
        }
        Ok(())
    }
}

/// Reads `dir/name` or `dir/name.gz`, checking the IDX magic and that the size matches the header.
fn read_idx(dir: &Path, name: &str, hint: &str) -> Result<Idx, DataError> {
    let raw = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if raw.exists() {
        read_idx_file(&raw, hint)
    } else if gz.exists() {
        read_idx_file(&gz, hint)
    } else {
        Err(DataError::Missing(format!("{} not found (nor {name}.gz): {hint}", raw.display())))
    }
}

/// Reads one IDX file, gunzipping it when its name ends in `.gz`.
fn read_idx_file(path: &Path, hint: &str) -> Result<Idx, DataError> {
    let mut bytes = Vec::new();
    crate::files::open(path)?.read_to_end(&mut bytes).map_err(|e| {
        let what = if path.extension().is_some_and(|e| e == "gz") { "not a readable gzip file" } else { "unreadable" };
        DataError::Other(format!("{}: {what} ({e}); {hint} again", path.display()))
    })?;
    parse_idx(path.to_path_buf(), bytes, hint)
}

fn parse_idx(path: PathBuf, bytes: Vec<u8>, hint: &str) -> Result<Idx, DataError> {
    let bad = |what: String| DataError::Other(format!("{}: {what}; {hint} again", path.display()));
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 {
        return Err(bad("not an IDX file of unsigned bytes (wrong magic number)".into()));
    }
    let rank = bytes[3] as usize;
    let header = 4 + 4 * rank;
    if rank == 0 || bytes.len() < header {
        return Err(bad("truncated IDX header".into()));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|d| u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().expect("4 bytes")) as usize)
        .collect();
    let expected = dims.iter().product::<usize>();
    if bytes.len() - header != expected {
        return Err(bad(format!("{} data bytes, the header {dims:?} says {expected}", bytes.len() - header)));
    }
    Ok(Idx { path, dims, data: bytes[header..].to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn keys(src: &str) -> toml::Table {
        src.parse().unwrap()
    }

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    /// A full-size fake MNIST (pixel value = image index mod 256, label = index mod 10), the
    /// training images gzipped.
    fn fake_mnist(dir: &Path) {
        let images = |n: usize| -> Vec<u8> { (0..n).flat_map(|i| std::iter::repeat_n((i % 256) as u8, 784)).collect() };
        let labels = |n: usize| -> Vec<u8> { (0..n).map(|i| (i % 10) as u8).collect() };
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(dir.join("train-images-idx3-ubyte.gz")).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(&idx(&[60_000, 28, 28], &images(60_000))).unwrap();
        gz.finish().unwrap();
        std::fs::write(dir.join("train-labels-idx1-ubyte"), idx(&[60_000], &labels(60_000))).unwrap();
        std::fs::write(dir.join("t10k-images-idx3-ubyte"), idx(&[10_000, 28, 28], &images(10_000))).unwrap();
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx(&[10_000], &labels(10_000))).unwrap();
    }

    #[test]
    fn reads_raw_and_gzipped_idx_by_rows_with_validation_and_subsets() {
        let dir = tempfile::tempdir().unwrap();
        fake_mnist(dir.path());
        let d = dir.path().display();
        let data = Mnist
            .build(&keys(&format!("data_dir = '{d}'\nn_validation = 5000\nn_train = 300\nn_test = 128")), 0)
            .unwrap();
        assert_eq!(data.task, TASK);
        assert_eq!((data.train.len, data.train.steps, data.train.input_size), (300, 28, 28));
        assert_eq!(data.test.len, 128);
        // The first training image after the 5000 held out is image 5000: pixels 5000 % 256 = 136.
        assert_eq!(data.train.inputs[0], 136.0 / 255.0);
        let Targets::Classes(labels) = &data.train.targets else { panic!("classes") };
        assert_eq!(labels[..3], [0, 1, 2]);
    }

    #[test]
    fn pixel_layout_and_a_fixed_permutation() {
        let dir = tempfile::tempdir().unwrap();
        fake_mnist(dir.path());
        let k = |s: &str| {
            keys(&format!("data_dir = '{}'\nlayout = 'pixels'\nn_train = 2\nn_test = 2\n{s}", dir.path().display()))
        };
        let plain = Mnist.build(&k(""), 0).unwrap();
        assert_eq!((plain.train.steps, plain.train.input_size), (784, 1));
        let a = Mnist.build(&k("permute = true"), 1).unwrap();
        assert_eq!(a, Mnist.build(&k("permute = true"), 2).unwrap(), "the permutation does not follow the trial seed");
    }

    #[test]
    fn missing_and_corrupt_files_name_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let k = keys(&format!("data_dir = '{}'", dir.path().display()));
        let err = Mnist.build(&k, 0).unwrap_err().to_string();
        assert!(err.contains("train-images-idx3-ubyte not found") && err.contains("just data mnist"), "{err}");
        fake_mnist(dir.path());
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), b"PK\x03\x04 not idx").unwrap();
        let err = Mnist.build(&k, 0).unwrap_err().to_string();
        assert!(err.contains("t10k-labels-idx1-ubyte") && err.contains("wrong magic"), "{err}");
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), idx(&[10_000], &[1, 2, 3])).unwrap();
        let err = Mnist.build(&k, 0).unwrap_err().to_string();
        assert!(err.contains("3 data bytes"), "{err}");
        let mut bad = (0..10_000).map(|i| (i % 10) as u8).collect::<Vec<_>>();
        bad[17] = 200;
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), idx(&[10_000], &bad)).unwrap();
        let err = Mnist.build(&k, 0).unwrap_err().to_string();
        assert!(err.contains("t10k-labels-idx1-ubyte: label 200 of item 17 is not a class 0..9"), "{err}");
        let fashion = keys("variant = 'fashion'\ndata_dir = '/nonexistent'");
        assert!(Mnist.build(&fashion, 0).unwrap_err().to_string().contains("just data fashion-mnist"));
    }

    #[test]
    fn bad_keys_are_refused_with_the_key() {
        let err = |src: &str| Mnist.check(&keys(src)).unwrap_err();
        assert_eq!(err("permute = true").path, ["permute"]);
        assert_eq!(err("n_validation = 60000").path, ["n_validation"]);
        assert_eq!(err("n_test = 0").path, ["n_test"]);
        assert_eq!(err("layout = 'columns'").path, ["layout"]);
    }
}
