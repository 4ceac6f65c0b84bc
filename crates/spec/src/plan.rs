//! What a spec expands to: the [`Plan`] and its [`Trial`]s, each named by its id.
//!
//! Architecture invariant: a trial id is a hash of the trial's resolved config (seed
//! included), serialised as TOML, so it changes iff the trial changes; a new option is not
//! serialised at its default, so adding one keeps every existing id. Keys that cannot change a
//! trial's numbers and were added after the first results existed are left out of the hash
//! ([`identity`]): `train.save_checkpoint`.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::config::*;

/// A validated spec, expanded into trials.
#[derive(Debug, Clone)]
pub struct Plan {
    pub spec_path: PathBuf,
    pub experiment: ExperimentConfig,
    pub report: ReportConfig,
    /// `[slurm]`, for `rnnlab sweep --slurm`.
    pub slurm: crate::cluster::SlurmConfig,
    /// `[prune]`: which trials the sweep stops early.
    pub prune: Option<crate::prune::PruneConfig>,
    pub published: Vec<Published>,
    /// Grid columns in spec order (a section axis contributes one column per key it sets).
    pub columns: Vec<String>,
    pub trials: Vec<Trial>,
    /// `[search] method = "tpe"`: the points after the start-up ones (which are in `trials`)
    /// are drawn by the sweep as trials finish.
    pub tpe: Option<crate::sequential::Tpe>,
    /// The spec text with the overrides applied and listed in a header comment.
    pub effective_spec: String,
    /// Short hash of `effective_spec`.
    pub spec_hash: String,
}

/// One trial: a grid point and a seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Short stable hash of the resolved config: changes iff the trial changes.
    pub id: String,
    /// `(column, value)` for every grid column, in `Plan::columns` order ("" where unset).
    pub point: Vec<(String, String)>,
    pub config: TrialConfig,
    /// Trainable parameters of its network (PyTorch's count), when the catalog knows the
    /// dataset's sizes.
    pub params: Option<u128>,
}

impl Trial {
    /// The resolved config as TOML (what trial.toml holds; the id hashes it without the keys
    /// [`identity`] drops).
    pub fn to_toml(&self) -> String {
        toml::to_string(&self.config).expect("trial configs serialise to TOML")
    }

    /// `model.cell=lstm, optimizer.lr=0.1` (empty when the grid is empty).
    pub fn point_label(&self) -> String {
        point_label(self.point.iter().map(|(k, v)| (k, v)))
    }
}

/// A grid point as rnnlab writes it everywhere (plan, progress, errors, reports):
/// `column=value` for every column that has a value, comma-separated.
pub fn point_label<K: AsRef<str>, V: AsRef<str>>(cells: impl IntoIterator<Item = (K, V)>) -> String {
    cells
        .into_iter()
        .filter(|(_, v)| !v.as_ref().is_empty())
        .map(|(k, v)| format!("{}={}", k.as_ref(), v.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The id of a trial: the first 5 bytes of the SHA-256 of its resolved config as TOML (less the
/// keys [`identity`] drops), in hex.
pub fn trial_id(config: &TrialConfig) -> String {
    short_hash(&toml::to_string(&identity(config)).expect("trial configs serialise to TOML"))
}

/// What a trial id hashes: the config without the keys that cannot change the trial's numbers
/// and were added after ids existed (`train.resumable` too: snapshots change no number).
/// `train.save_checkpoint` only decides whether the trained
/// parameters are written, so turning it on or off keeps the id (before this rule, specs that
/// set it had other ids). `train.eval_batch_size` also changes no number, but was hashed from
/// the start: leaving it out would give every existing trial a new id.
pub fn identity(config: &TrialConfig) -> TrialConfig {
    let mut config = config.clone();
    config.train.save_checkpoint = false;
    config.train.resumable = true;
    config
}

/// A config's TOML without its first line, `seed = N` (`seed` is the first field of
/// `TrialConfig`), less the keys [`identity`] drops: the same for every seed of a grid point.
pub(crate) fn config_tail(config: &TrialConfig) -> String {
    let text = toml::to_string(&TrialConfig { seed: 0, ..identity(config) }).expect("trial configs serialise to TOML");
    text.strip_prefix("seed = 0\n").expect("`seed` is serialised first").to_string()
}

/// [`trial_id`] of the config whose [`config_tail`] is `tail`, with `seed`.
pub(crate) fn trial_id_from_tail(seed: u64, tail: &str) -> String {
    short_hash(&format!("seed = {seed}\n{tail}"))
}

/// FNV-1a of `bytes`: a small hash, stable across builds and machines, for deciding things
/// by name (a hyperband bracket by trial id, a generated dataset's seed by task name).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// Ten hex digits of the SHA-256 of `text` (trial ids, spec hashes).
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_the_shared_tail_equal_ids_from_the_whole_config() {
        let config: TrialConfig = toml::from_str(
            "seed = 0\n[dataset]\nplugin = 'parity'\nlength = 4\n[model]\ncell = 'gru'\nhidden_size = 8\n\
             [optimizer]\nname = 'adam'\nlr = 0.1\n[train]\nsteps = 3\nbatch_size = 2\n[run]\n",
        )
        .unwrap();
        let tail = config_tail(&config);
        for seed in [0, 1, 42, 1 << 40, u64::MAX >> 1] {
            assert_eq!(trial_id_from_tail(seed, &tail), trial_id(&TrialConfig { seed, ..config.clone() }), "{seed}");
        }
        let mut saving = config.clone();
        saving.train.save_checkpoint = true;
        assert_eq!(trial_id(&saving), trial_id(&config), "save_checkpoint is not part of the id");
        assert_eq!(config_tail(&saving), tail);
        assert!(toml::to_string(&saving).unwrap().contains("save_checkpoint = true"), "trial.toml still says so");
    }
}
