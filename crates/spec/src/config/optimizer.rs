//! `[optimizer]`: the keys every optimizer shares (`name`, `lr`, `clip_grad_norm`,
//! `schedule`), and the named optimizer's own keys, which its file in `rnnlab-optim` decodes
//! and checks (its `Config`, through the registry `rnnlab_optim::OPTIMIZERS`).

use serde::ser::{Error as _, SerializeMap};
use serde::{Deserialize, Serialize};

use crate::error::{closest, FieldError};

/// `[optimizer]`.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerConfig {
    /// A name in `rnnlab_optim::OPTIMIZERS`.
    pub name: String,
    pub lr: f64,
    /// Global-norm gradient clipping; 0 = off.
    pub clip_grad_norm: f64,
    /// The learning rate over the steps (constant `lr` when absent).
    pub schedule: Option<super::ScheduleConfig>,
    /// Every other key, as given: the named optimizer's (see [`OptimizerConfig::settings`]).
    pub keys: toml::Table,
}

/// `[optimizer]`: the optimizer and the keys every optimizer shares; the rest of the section
/// is the named optimizer's own keys (below). A key the chosen optimizer does not take is an
/// error. The update rules follow `torch.optim` step for step (TensorFlow 1's for
/// `flavor = "tf1"`), checked against PyTorch's trajectories.
#[derive(Deserialize, schemars::JsonSchema)]
struct Shared {
    /// The optimizer (below).
    name: String,
    /// The learning rate (the start of a schedule's).
    lr: f64,
    /// Global-norm gradient clipping (PyTorch's `clip_grad_norm_`); 0 = off.
    #[serde(default)]
    clip_grad_norm: f64,
    #[serde(default)]
    schedule: Option<super::ScheduleConfig>,
    #[serde(flatten)]
    #[schemars(skip)]
    keys: toml::Table,
}

/// The keys of `[optimizer]` every optimizer shares, for the spec reference.
pub fn optimizer_schema() -> schemars::Schema {
    crate::reference::schema_of::<Shared>()
}

impl<'de> Deserialize<'de> for OptimizerConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Shared { name, lr, clip_grad_norm, schedule, keys } = Shared::deserialize(d)?;
        Ok(OptimizerConfig { name, lr, clip_grad_norm, schedule, keys })
    }
}

/// Trial ids hash `[optimizer]` as rnnlab first wrote it, one struct for every optimizer:
/// after `name`, `lr` and `clip_grad_norm`, these keys in this order, each with the
/// optimizer's value or, for a key the optimizer does not have, the value that struct held
/// (`None`: written only when given). Keys of optimizers added since follow, then `schedule`.
/// A key an optimizer does not have is accepted at this value (as that struct accepted it).
const FIRST_LAYOUT: [(&str, Option<LayoutValue>); 9] = [
    ("weight_decay", None),
    ("momentum", Some(LayoutValue::Float(0.0))),
    ("nesterov", Some(LayoutValue::Bool(false))),
    ("beta1", Some(LayoutValue::Float(0.9))),
    ("beta2", Some(LayoutValue::Float(0.999))),
    ("eps", None),
    ("alpha", Some(LayoutValue::Float(0.99))),
    ("flavor", Some(LayoutValue::Str("pytorch"))),
    ("centered", Some(LayoutValue::Bool(false))),
];

#[derive(Debug, Clone, Copy)]
enum LayoutValue {
    Float(f64),
    Bool(bool),
    Str(&'static str),
}

impl LayoutValue {
    fn value(self) -> toml::Value {
        match self {
            LayoutValue::Float(x) => toml::Value::Float(x),
            LayoutValue::Bool(b) => toml::Value::Boolean(b),
            LayoutValue::Str(s) => toml::Value::String(s.to_string()),
        }
    }

    /// Whether a spec's `value` is this one (`0` and `0.0` alike).
    fn is(self, value: &toml::Value) -> bool {
        match (self, value) {
            (LayoutValue::Float(x), toml::Value::Float(v)) => *v == x,
            (LayoutValue::Float(x), toml::Value::Integer(v)) => *v as f64 == x,
            (LayoutValue::Bool(b), toml::Value::Boolean(v)) => *v == b,
            (LayoutValue::Str(s), toml::Value::String(v)) => v == s,
            _ => false,
        }
    }
}

/// The keys of `[optimizer]` that are not the optimizer's own.
const SHARED: [&str; 4] = ["name", "lr", "clip_grad_norm", "schedule"];

/// A key that no optimizer has: the closest one `optimizer` takes, or another optimizer's.
fn unknown_key(key: &str, optimizer: &str, own: &[String]) -> FieldError {
    let valid = OptimizerConfig::valid_keys(own);
    let others: Vec<String> =
        rnnlab_optim::OPTIMIZERS.iter().flat_map(rnnlab_optim::keys).filter(|k| !valid.contains(k)).cloned().collect();
    let help = if let Some(c) = closest(key, valid.iter().map(String::as_str)) {
        format!("did you mean `{c}`?")
    } else if let Some(c) = closest(key, others.iter().map(String::as_str)) {
        format!("did you mean `{c}`? (not used by `{optimizer}`, which takes {})", valid.join(", "))
    } else {
        format!("`{optimizer}` takes {}", valid.join(", "))
    };
    let mut err = FieldError::new(&[key], format!("unknown key `{key}`")).with_help(help);
    err.at_key = true;
    err
}

impl Serialize for OptimizerConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let settings = self.settings().map_err(|e| S::Error::custom(e.message))?;
        let mut own = settings.table();
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("lr", &self.lr)?;
        map.serialize_entry("clip_grad_norm", &self.clip_grad_norm)?;
        for (key, held) in FIRST_LAYOUT {
            match (own.remove(key), held) {
                (Some(value), _) => map.serialize_entry(key, &value)?,
                (None, Some(held)) => map.serialize_entry(key, &held.value())?,
                (None, None) => {}
            }
        }
        for (key, value) in &own {
            map.serialize_entry(key, value)?;
        }
        if let Some(schedule) = &self.schedule {
            map.serialize_entry("schedule", schedule)?;
        }
        map.end()
    }
}

impl OptimizerConfig {
    /// The named optimizer's keys, decoded by its `Config` (unchecked: see `check`).
    pub fn settings(&self) -> Result<Box<dyn rnnlab_optim::Settings>, FieldError> {
        let entry = rnnlab_optim::find(&self.name).ok_or_else(|| {
            let names: Vec<&str> = rnnlab_optim::OPTIMIZERS.iter().map(|e| e.name).collect();
            let help = match closest(&self.name, names.iter().copied()) {
                Some(c) => format!("did you mean `{c}`? (valid: {})", names.join(", ")),
                None => format!("valid values: {}", names.join(", ")),
            };
            FieldError::new(&["name"], format!("unknown optimizer `{}`", self.name)).with_help(help)
        })?;
        let mut keys = self.keys.clone();
        let own = rnnlab_optim::keys(entry);
        for (key, held) in FIRST_LAYOUT {
            if let (Some(held), Some(value)) = (held, keys.get(key)) {
                if held.is(value) && !own.iter().any(|k| k == key) {
                    keys.remove(key);
                }
            }
        }
        (entry.decode)(toml::Value::Table(keys)).map_err(|e| {
            let err = crate::decode::field_error(e);
            let key = err.path.last().cloned().unwrap_or_default();
            if !err.at_key {
                return err;
            }
            let users: Vec<&str> = rnnlab_optim::OPTIMIZERS
                .iter()
                .filter(|o| rnnlab_optim::keys(o).contains(&key))
                .map(|o| o.name)
                .collect();
            if users.is_empty() {
                return unknown_key(&key, &self.name, own);
            }
            let mut err = FieldError::new(
                &[&key],
                format!("`{key}` is not used by `{}` (only by {})", self.name, users.join(", ")),
            )
            .with_help(format!("remove `{key}` or pick an optimizer that uses it"));
            err.at_key = true;
            err
        })
    }

    /// Every key `[optimizer]` takes with the named optimizer.
    fn valid_keys(own: &[String]) -> Vec<String> {
        SHARED.iter().map(|k| k.to_string()).chain(own.iter().cloned()).collect()
    }

    pub(crate) fn check(&self) -> Result<(), FieldError> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(FieldError::new(&["lr"], "must be a positive number").with_help("e.g. `lr = 0.001`"));
        }
        if self.clip_grad_norm.is_nan() || self.clip_grad_norm < 0.0 {
            return Err(FieldError::new(&["clip_grad_norm"], "must be ≥ 0 (0 turns clipping off)"));
        }
        self.settings()?.check().map_err(|e| {
            let err = FieldError::new(&[e.key], e.message);
            match e.help {
                Some(help) => err.with_help(help),
                None => err,
            }
        })?;
        if let Some(schedule) = &self.schedule {
            schedule.check(self.lr).map_err(|e| e.within(&["schedule"]))?;
        }
        Ok(())
    }
}
