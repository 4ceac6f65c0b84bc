//! Optimizers over flat parameter and gradient buffers, with PyTorch's (or TensorFlow 1's)
//! update rules, and global-norm gradient clipping.
//!
//! One file per optimizer owns everything about it: its `[optimizer]` keys (a serde `Config`
//! with their defaults and docs), their checks ([`Settings::check`]), and its update rule.
//! [`OPTIMIZERS`] is the registry, one line each: spec decodes and checks a spec's
//! `[optimizer]` through it, train builds the optimizer through it. Each is checked step by
//! step against PyTorch's trajectories (`crates/nn/tests/golden.rs`, `scripts/golden.py`).
//!
//! The keys every optimizer shares (`name`, `lr`, `clip_grad_norm`, `schedule`) belong to the
//! trainer and stay in spec's `OptimizerConfig`; everything else in `[optimizer]` is the
//! named optimizer's.

mod adagrad;
mod adam;
mod rmsprop;
mod sgd;

/// An optimizer holding its own state for `n` parameters.
pub trait Optimizer: Send {
    /// One update of `params` given their gradients.
    fn step(&mut self, params: &mut [f32], grads: &[f32]);

    /// The learning rate of the next steps (a schedule sets it before each step).
    fn set_lr(&mut self, lr: f64);

    /// Its state between two steps, for a trial to resume from (the learning rate aside: the
    /// trainer sets it before every step).
    fn state(&self) -> State;

    /// Takes back a state [`Optimizer::state`] gave, for `n` parameters; refused when its
    /// buffers do not fit.
    fn restore(&mut self, state: State, n: usize) -> Result<(), String>;
}

/// An optimizer's state: its buffers, in the optimizer's own order (each empty until its
/// first step, or one float per parameter), and how many steps it has taken.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub buffers: Vec<Vec<f32>>,
    pub steps: u64,
}

impl State {
    /// The `N` buffers of a state, checked against the optimizer's `current` ones: as many,
    /// each as long, or (where the optimizer allocates at its first step) empty or of `n`.
    fn buffers<const N: usize>(self, n: usize, current: [&[f32]; N]) -> Result<[Vec<f32>; N], String> {
        let count = self.buffers.len();
        let buffers: [Vec<f32>; N] =
            self.buffers.try_into().map_err(|_| format!("{count} optimizer buffers, expected {N}"))?;
        let fits = |(b, c): (&Vec<f32>, &&[f32])| b.len() == c.len() || (c.is_empty() && b.len() == n);
        match buffers.iter().zip(&current).find(|pair| !fits(*pair)) {
            Some((b, _)) => Err(format!("an optimizer buffer of {} values for {n} parameters", b.len())),
            None => Ok(buffers),
        }
    }
}

/// A `Config`'s keys as a table: every serde `Config` has it (a supertrait of [`Settings`], so
/// trait objects can call it).
pub trait Table {
    /// The keys with their defaults filled in (optional keys only when given), in the order
    /// of the `Config` struct: what a trial's resolved config (and so its id) holds.
    fn table(&self) -> toml::Table;
}

impl<C: serde::Serialize> Table for C {
    fn table(&self) -> toml::Table {
        toml::Table::try_from(self).expect("optimizer configs are tables of plain values")
    }
}

/// One optimizer's decoded keys.
pub trait Settings: Table + std::fmt::Debug + Send + Sync {
    /// Checks the values (ranges, combinations).
    fn check(&self) -> Result<(), KeyError>;

    /// The optimizer for `n` parameters, starting at learning rate `lr`.
    fn build(&self, lr: f64, n: usize) -> Box<dyn Optimizer>;

    /// How many buffers of one float per parameter the optimizer keeps (memory estimates).
    fn state_buffers(&self) -> usize;
}

/// A bad value of one key, found by [`Settings::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct KeyError {
    pub key: &'static str,
    pub message: String,
    pub help: Option<String>,
}

impl KeyError {
    fn new(key: &'static str, message: impl Into<String>) -> Self {
        KeyError { key, message: message.into(), help: None }
    }

    fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// serde's error for a table that does not decode, with the key path it was found at.
pub type DecodeError = serde_path_to_error::Error<toml::de::Error>;

/// One line of the registry.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The spelling in `[optimizer] name`.
    pub name: &'static str,
    /// Decodes the optimizer's keys (the section without the shared keys).
    pub decode: fn(toml::Value) -> Result<Box<dyn Settings>, DecodeError>,
    /// Describes the keys (its `Config`'s doc comments and defaults) for the spec reference.
    pub schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
}

/// Every optimizer, one line each: the name in specs and how its keys decode.
pub const OPTIMIZERS: &[Entry] = &[
    Entry::of::<sgd::Config>("sgd"),
    Entry::of::<adam::Config<false>>("adam"),
    Entry::of::<adam::Config<true>>("adamw"),
    Entry::of::<rmsprop::Config>("rmsprop"),
    Entry::of::<adagrad::Config>("adagrad"),
];

impl Entry {
    const fn of<C: serde::de::DeserializeOwned + Settings + schemars::JsonSchema + 'static>(
        name: &'static str,
    ) -> Entry {
        Entry { name, decode: decode_as::<C>, schema: C::json_schema }
    }
}

/// The registry entry named `name`.
pub fn find(name: &str) -> Option<&'static Entry> {
    OPTIMIZERS.iter().find(|e| e.name == name)
}

/// The keys `entry`'s optimizer accepts besides the shared ones, as serde lists them when it
/// refuses one it does not know (so the `Config` struct is their one list). Read once per
/// optimizer and kept: a spec asks for every grid point.
pub fn keys(entry: &Entry) -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<Vec<String>>> = std::sync::OnceLock::new();
    let all = KEYS.get_or_init(|| OPTIMIZERS.iter().map(read_keys).collect());
    OPTIMIZERS.iter().position(|e| e.name == entry.name).map_or(&[], |i| &all[i])
}

fn read_keys(entry: &Entry) -> Vec<String> {
    let probe = toml::Table::from_iter([("\u{1}".to_string(), toml::Value::Boolean(true))]);
    let Err(e) = (entry.decode)(toml::Value::Table(probe)) else {
        return Vec::new();
    };
    let message = e.into_inner().message().to_string();
    let Some(pos) = message.find("expected") else {
        return Vec::new();
    };
    message[pos..].split('`').skip(1).step_by(2).map(str::to_string).collect()
}

fn decode_as<C: serde::de::DeserializeOwned + Settings + 'static>(
    keys: toml::Value,
) -> Result<Box<dyn Settings>, DecodeError> {
    serde_path_to_error::deserialize::<_, C>(keys).map(|c| Box::new(c) as Box<dyn Settings>)
}

/// `Err` unless `value` is in `[0, 1)` (betas, smoothing constants).
fn unit_interval(key: &'static str, value: f64) -> Result<(), KeyError> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(KeyError::new(key, "must be in [0, 1)"))
    }
}

/// `Err` unless `value` (an `eps` or `weight_decay`) is ≥ 0, or > 0 when `strict`.
fn non_negative(key: &'static str, value: f64, strict: bool) -> Result<(), KeyError> {
    if value.is_nan() || value < 0.0 || (strict && value == 0.0) {
        Err(KeyError::new(key, if strict { "must be > 0" } else { "must be ≥ 0" }))
    } else {
        Ok(())
    }
}

/// Scales `grads` so their global L2 norm is at most `max_norm` (PyTorch's `clip_grad_norm_`).
/// Returns the norm before clipping.
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f64) -> f64 {
    let norm = grads.iter().map(|&g| (g as f64) * (g as f64)).sum::<f64>().sqrt();
    let scale = max_norm / (norm + 1e-6);
    if scale < 1.0 {
        grads.iter_mut().for_each(|g| *g = (*g as f64 * scale) as f32);
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(name: &str, keys: &str) -> Box<dyn Settings> {
        let keys: toml::Table = toml::from_str(keys).unwrap();
        (find(name).unwrap().decode)(toml::Value::Table(keys)).unwrap()
    }

    #[test]
    fn clipping_scales_to_the_max_norm_and_leaves_small_gradients() {
        let mut g = vec![3.0, 4.0];
        assert_eq!(clip_grad_norm(&mut g, 1.0), 5.0);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6, "{g:?}");
        let mut small = vec![0.3, 0.4];
        clip_grad_norm(&mut small, 1.0);
        assert_eq!(small, [0.3, 0.4]);
    }

    #[test]
    fn every_optimizer_decodes_its_defaults_and_builds() {
        for entry in OPTIMIZERS {
            let settings = (entry.decode)(toml::Value::Table(toml::Table::new())).unwrap();
            settings.check().unwrap_or_else(|e| panic!("{}: defaults fail their check: {e:?}", entry.name));
            let mut opt = settings.build(0.1, 3);
            let mut p = vec![1.0, -1.0, 0.5];
            opt.step(&mut p, &[1.0, -1.0, 0.5]);
            assert!(
                p.iter().all(|v| v.abs() < 1.0),
                "{}: one step did not move against the gradient: {p:?}",
                entry.name
            );
        }
    }

    #[test]
    fn keys_are_read_from_each_config() {
        assert_eq!(keys(find("sgd").unwrap()), ["weight_decay", "momentum", "nesterov"]);
        assert_eq!(keys(find("adamw").unwrap()), ["weight_decay", "beta1", "beta2", "eps"]);
        for entry in OPTIMIZERS {
            assert!(keys(entry).contains(&"weight_decay".to_string()), "{}", entry.name);
        }
    }

    #[test]
    fn keys_of_other_optimizers_and_bad_values_are_refused() {
        let keys: toml::Table = toml::from_str("beta1 = 0.8").unwrap();
        let err = (find("sgd").unwrap().decode)(toml::Value::Table(keys)).unwrap_err();
        assert!(err.to_string().contains("unknown field `beta1`"), "{err}");
        assert_eq!(decode("adam", "beta1 = 1.0").check().unwrap_err().key, "beta1");
        assert_eq!(decode("sgd", "nesterov = true").check().unwrap_err().key, "nesterov");
        assert_eq!(decode("rmsprop", "centered = true\nflavor = 'tf1'").check().unwrap_err().key, "centered");
        assert_eq!(decode("adagrad", "eps = 0.0").check().unwrap_err().key, "eps");
    }

    #[test]
    fn tables_fill_defaults_and_keep_optional_keys_out_unless_given() {
        assert_eq!(decode("sgd", "").table().to_string(), "momentum = 0.0\nnesterov = false\n");
        assert_eq!(decode("adamw", "eps = 1e-6").table().to_string(), "beta1 = 0.9\nbeta2 = 0.999\neps = 0.000001\n");
    }
}
