//! `poly_music`: next-frame prediction on polyphonic piano rolls (JSB Chorales, Nottingham,
//! MuseData, Piano-midi.de; Boulanger-Lewandowski et al. 2012, standard splits). Each step's
//! input is a frame of the 88 piano keys (MIDI 21–108, 1 = sounding) and its target the next
//! frame: 88 independent binary labels. Pieces differ in length; the set is padded and carries
//! the lengths. Reads `<data_dir>/<name>/{train,valid,test}.csv` (`sequence,frame,notes`);
//! `just data poly-music` puts them in data/poly_music.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use rnnlab_spec::{decode, FieldError};

use crate::base::{DataError, Dataset, LossReduction, Plugin, SequenceSet, Targets, Task};

const KEYS: usize = 88;
const LOWEST: u32 = 21;

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Name {
    JsbChorales,
    Nottingham,
    Musedata,
    PianoMidi,
}

impl Name {
    fn folder(self) -> &'static str {
        match self {
            Name::JsbChorales => "jsb_chorales",
            Name::Nottingham => "nottingham",
            Name::Musedata => "musedata",
            Name::PianoMidi => "piano_midi",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Split {
    /// The test files.
    #[default]
    Test,
    /// The valid files (then there is no validation split).
    Valid,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Which corpus (piano rolls that ship in `data/poly_music/`).
    name: Name,
    /// Folder holding `<name>/{train,valid,test}.csv.gz` (default: `$RNNLAB_DATA/poly_music`, else `data/poly_music`).
    data_dir: Option<String>,
    /// The split evaluated as the test set (the valid files are the validation split unless named here).
    #[serde(default)]
    test_split: Split,
    /// Cut longer pieces into consecutive chunks of at most this many steps (default: whole pieces).
    max_steps: Option<usize>,
}

const TASK: Task = Task::MultiLabel { labels: KEYS, per_step: true };

impl Config {
    fn read(keys: &toml::Table) -> Result<Config, FieldError> {
        let c: Config = decode(keys)?;
        if c.max_steps == Some(0) {
            return Err(FieldError::new(&["max_steps"], "must be at least 1"));
        }
        Ok(c)
    }

    fn dir(&self) -> PathBuf {
        let root = match (&self.data_dir, std::env::var_os("RNNLAB_DATA")) {
            (Some(d), _) => PathBuf::from(d),
            (None, Some(r)) => PathBuf::from(r).join("poly_music"),
            (None, None) => PathBuf::from("data/poly_music"),
        };
        root.join(self.name.folder())
    }
}

/// The `poly_music` plugin.
pub struct PolyMusic;

impl Plugin for PolyMusic {
    fn name(&self) -> &'static str {
        "poly_music"
    }

    fn doc(&self) -> &'static str {
        "next piano-roll frame (88 keys, multi-label) of JSB Chorales, Nottingham, MuseData, Piano-midi.de; variable lengths"
    }

    fn keys(&self) -> schemars::Schema {
        rnnlab_spec::reference::schema_of::<Config>()
    }

    fn example(&self) -> &'static str {
        "plugin = \"poly_music\"\nname = \"jsb_chorales\"\n"
    }

    fn has_validation(&self, keys: &toml::Table) -> bool {
        Config::read(keys)
            .is_ok_and(|c| c.test_split == Split::Test && crate::files::find(&c.dir(), "valid.csv").is_some())
    }

    fn input_size(&self, _keys: &toml::Table) -> Option<usize> {
        Some(KEYS)
    }

    fn check(&self, keys: &toml::Table) -> Result<Task, FieldError> {
        Config::read(keys).map(|_| TASK)
    }

    fn build(&self, keys: &toml::Table, _seed: u64) -> Result<Dataset, DataError> {
        let c = Config::read(keys).map_err(DataError::Config)?;
        let dir = c.dir();
        let test = match c.test_split {
            Split::Test => "test",
            Split::Valid => "valid",
        };
        let read = |split: &str| -> Result<SequenceSet, DataError> {
            let Some(path) = crate::files::find(&dir, &format!("{split}.csv")) else {
                return Err(DataError::Missing(format!(
                    "{} not found (nor {split}.csv.gz): the piano rolls ship with rnnlab in data/poly_music \
                     (`just data poly-music` checks them); run from the repository's root, or set \
                     `data_dir` or RNNLAB_DATA",
                    dir.join(format!("{split}.csv")).display()
                )));
            };
            let pieces = read_pieces(&path)?;
            Ok(to_set(&pieces, c.max_steps))
        };
        // The valid files are the validation split (when there are any), unless they are
        // evaluated as the test set.
        let has_valid = crate::files::find(&dir, "valid.csv").is_some();
        let valid = if c.test_split == Split::Test && has_valid { Some(read("valid")?) } else { None };
        Ok(Dataset { task: TASK, train: read("train")?, valid, test: read(test)?, loss_reduction: LossReduction::Mean })
    }

    fn reads_files(&self) -> bool {
        true
    }

    /// Reads the piano rolls (a few MB of gzipped CSV) as a trial would; placed at `data_dir`
    /// (or `name` when the folder is the default one).
    fn check_files(&self, keys: &toml::Table) -> Result<(), FieldError> {
        let at = if keys.contains_key("data_dir") { "data_dir" } else { "name" };
        let data = self.build(keys, 0).map_err(|e| FieldError::new(&[at], e.to_string()))?;
        data.check(self.name()).map_err(|e| FieldError::new(&[at], e.to_string()))
    }
}

/// The pieces of a split CSV, each a list of frames (88-key bit vectors).
fn read_pieces(path: &std::path::Path) -> Result<Vec<Vec<[bool; KEYS]>>, DataError> {
    let err = |line: u64, what: String| DataError::Other(format!("{}:{line}: {what}", path.display()));
    let mut reader = csv::Reader::from_reader(crate::files::open(path)?);
    let mut pieces: Vec<Vec<[bool; KEYS]>> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| crate::files::csv_error(path, &e))?;
        let line = record.position().map_or(1, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("");
        let seq: usize = field(0).parse().map_err(|_| err(line, format!("sequence `{}` is not a number", field(0))))?;
        let frame: usize = field(1).parse().map_err(|_| err(line, format!("frame `{}` is not a number", field(1))))?;
        if seq == pieces.len() {
            pieces.push(Vec::new());
        }
        if seq + 1 != pieces.len() || frame != pieces[seq].len() {
            return Err(err(
                line,
                format!(
                    "expected sequence {} frame {}, found {seq}, {frame}",
                    pieces.len() - 1,
                    pieces[seq.min(pieces.len() - 1)].len()
                ),
            ));
        }
        let mut keys = [false; KEYS];
        for note in field(2).split_whitespace() {
            let pitch: u32 = note.parse().map_err(|_| err(line, format!("note `{note}` is not a number")))?;
            if !(LOWEST..LOWEST + KEYS as u32).contains(&pitch) {
                return Err(err(line, format!("note {pitch} is outside the piano (21..108)")));
            }
            keys[(pitch - LOWEST) as usize] = true;
        }
        pieces[seq].push(keys);
    }
    Ok(pieces)
}

/// Inputs frames 0..n-1, targets frames 1..n, padded to the longest (chunk).
fn to_set(pieces: &[Vec<[bool; KEYS]>], max_steps: Option<usize>) -> SequenceSet {
    let mut seqs: Vec<&[[bool; KEYS]]> = Vec::new();
    for p in pieces.iter().filter(|p| p.len() >= 2) {
        let n = p.len() - 1; // predicted frames
        let chunk = max_steps.unwrap_or(n);
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            seqs.push(&p[start..=end]); // inputs start..end, targets start+1..=end
            start = end;
        }
    }
    let lengths: Vec<usize> = seqs.iter().map(|s| s.len() - 1).collect();
    let steps = lengths.iter().copied().max().unwrap_or(0);
    let mut inputs = vec![0.0f32; seqs.len() * steps * KEYS];
    let mut targets = vec![0.0f32; seqs.len() * steps * KEYS];
    for (n, s) in seqs.iter().enumerate() {
        for t in 0..s.len() - 1 {
            let at = (n * steps + t) * KEYS;
            for k in 0..KEYS {
                inputs[at + k] = f32::from(u8::from(s[t][k]));
                targets[at + k] = f32::from(u8::from(s[t + 1][k]));
            }
        }
    }
    SequenceSet {
        len: seqs.len(),
        steps,
        lengths: Some(lengths),
        input_size: KEYS,
        inputs,
        targets: Targets::Values(targets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(src: &str) -> toml::Table {
        src.parse().unwrap()
    }

    fn write(dir: &std::path::Path, split: &str, text: &str) {
        std::fs::create_dir_all(dir.join("jsb_chorales")).unwrap();
        std::fs::write(dir.join("jsb_chorales").join(format!("{split}.csv")), text).unwrap();
    }

    #[test]
    fn next_frame_targets_padded_with_lengths_and_chunks() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "train", "sequence,frame,notes\n0,0,21 60\n0,1,\n0,2,108\n1,0,60\n1,1,61\n");
        write(dir.path(), "test", "sequence,frame,notes\n0,0,60\n0,1,60\n");
        let k = keys(&format!("name = 'jsb_chorales'\ndata_dir = '{}'", dir.path().display()));
        let d = PolyMusic.build(&k, 0).unwrap();
        assert_eq!(d.task, TASK);
        assert_eq!((d.train.len, d.train.steps, d.train.lengths.clone()), (2, 2, Some(vec![2, 1])));
        let x = &d.train.inputs;
        assert_eq!((x[0], x[39], x[40]), (1.0, 1.0, 0.0)); // piece 0 frame 0: keys 21 and 60
        let Targets::Values(y) = &d.train.targets else { panic!("values") };
        assert_eq!(y[KEYS + 87], 1.0); // piece 0, step 1's target is frame 2: key 108
        assert_eq!(y[2 * KEYS + 40], 1.0); // piece 1, step 0's target: key 61
        assert!(y[3 * KEYS..4 * KEYS].iter().all(|&v| v == 0.0), "padding is zero");
        let chunked = PolyMusic
            .build(&keys(&format!("name = 'jsb_chorales'\ndata_dir = '{}'\nmax_steps = 1", dir.path().display())), 0)
            .unwrap();
        assert_eq!((chunked.train.len, chunked.train.steps), (3, 1));
        assert_eq!(d.valid, None, "no valid files, no validation split");
        write(
            dir.path(),
            "valid",
            "sequence,frame,notes
0,0,60
0,1,61
0,2,62
",
        );
        let d = PolyMusic.build(&k, 0).unwrap();
        assert_eq!(d.valid.map(|v| (v.len, v.steps)), Some((1, 2)));
        let as_test = keys(&format!(
            "name = 'jsb_chorales'
data_dir = '{}'
test_split = 'valid'",
            dir.path().display()
        ));
        let d = PolyMusic.build(&as_test, 0).unwrap();
        assert_eq!((d.valid, d.test.steps), (None, 2), "the valid files tested are not also the validation split");
    }

    #[test]
    fn bad_files_and_keys_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let k = keys(&format!("name = 'jsb_chorales'\ndata_dir = '{}'", dir.path().display()));
        assert!(matches!(PolyMusic.build(&k, 0), Err(DataError::Missing(m)) if m.contains("just data poly-music")));
        write(dir.path(), "train", "sequence,frame,notes\n0,0,12\n");
        write(dir.path(), "test", "sequence,frame,notes\n0,0,60\n");
        let e = PolyMusic.build(&k, 0).unwrap_err().to_string();
        assert!(e.contains("train.csv:2") && e.contains("note 12"), "{e}");
        write(dir.path(), "train", "sequence,frame,notes\n0,1,60\n");
        assert!(PolyMusic.build(&k, 0).unwrap_err().to_string().contains("expected sequence 0 frame 0"));
        assert_eq!(PolyMusic.check(&keys("name = 'bach'")).unwrap_err().path, ["name"]);
        assert_eq!(PolyMusic.check(&keys("name = 'nottingham'\nmax_steps = 0")).unwrap_err().path, ["max_steps"]);
    }
}
