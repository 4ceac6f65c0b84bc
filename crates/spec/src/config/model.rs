//! `[model]`: the cell, its sizes, initialisation, head and kernel.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// The cell registry: one line per recurrent cell, `(Variant, name, gate blocks)`.
///
/// `name` is the cell's spelling in specs and the name of its two files in `rnnlab-nn`:
/// `cells/<name>.rs` (the reference layer, generic over dfdx dims, with its `Dynamic` alias and
/// `Cell` impl) and `fused/<name>.rs` (its CPU kernel and `kernel`); gate blocks are the row
/// blocks of its weights (PyTorch's 4H, 3H, H). Everything that lists cells expands this
/// macro: [`CellKind`] here, `Layer`, its constructor and the kernel dispatch in nn, and the
/// benchmarks, memory and cost estimates through `CellKind::ALL` and `gates`. Adding a cell is
/// its two files (and their `mod` lines) plus a line here.
///
/// `for_each_cell!(callback! extra tokens)` expands to `callback! { {extra tokens} (Lstm, lstm,
/// 4), (Gru, gru, 3), (Rnn, rnn, 1), }`.
#[macro_export]
macro_rules! for_each_cell {
    ($callback:ident ! $($extra:tt)*) => {
        $callback! { {$($extra)*}
            (Lstm, lstm, 4),
            (Gru, gru, 3),
            (Rnn, rnn, 1),
        }
    };
}

macro_rules! define_cell_kind {
    ({} $(($variant:ident, $name:ident, $gates:literal),)*) => {
        /// The recurrent cell (the variants are [`for_each_cell!`]'s lines).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CellKind {
            $($variant,)*
        }

        impl CellKind {
            /// Every cell, in registry order (table order of benchmarks, `rnnlab bench --cell`).
            pub const ALL: &'static [CellKind] = &[$(CellKind::$variant),*];
            const NAMES: &'static [&'static str] = &[$(stringify!($name)),*];

            /// The spelling in specs.
            pub fn name(self) -> &'static str {
                match self {
                    $(CellKind::$variant => stringify!($name),)*
                }
            }

            /// Gate blocks of the input and recurrent weights (PyTorch's 4H, 3H, H rows).
            pub fn gates(self) -> usize {
                match self {
                    $(CellKind::$variant => $gates,)*
                }
            }
        }
    };
}

for_each_cell!(define_cell_kind!);

impl Serialize for CellKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for CellKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CellKind::ALL
            .iter()
            .copied()
            .find(|c| c.name() == s)
            .ok_or_else(|| serde::de::Error::unknown_variant(&s, CellKind::NAMES))
    }
}

impl JsonSchema for CellKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CellKind".into()
    }

    /// The registry's names.
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "enum": CellKind::NAMES })
    }
}

impl std::str::FromStr for CellKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        CellKind::ALL
            .iter()
            .copied()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown cell `{s}`: use {}", CellKind::NAMES.join(", ")))
    }
}

/// Activation of the simple RNN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Nonlinearity {
    /// h = tanh(W_ih x + b_ih + W_hh h + b_hh).
    #[default]
    Tanh,
    /// h = relu(…), as PyTorch's `nonlinearity = "relu"`.
    Relu,
}

/// How the recurrent weights are initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// PyTorch's default: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias.
    #[default]
    Pytorch,
    /// Xavier/Glorot uniform weights, zero biases.
    Xavier,
    /// Every recurrent weight and bias zero (the zero-initialised tanh RNN tutorial).
    Zeros,
    /// N(0, init_std²) weights, zero biases.
    Normal,
}

/// What maps the recurrent output to the task's outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// A linear layer (`head.weight`, `head.bias`), PyTorch's `nn.Linear` init.
    #[default]
    Linear,
    /// No head: the recurrent output is the prediction (its size must match the task).
    None,
}

/// How the recurrent layers are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KernelKind {
    /// One fused op per layer and sequence on raw buffers (CPU).
    #[default]
    Fused,
    /// The composite per-step dfdx ops (the reference the fused kernels are tested against).
    Reference,
}

/// `[model]`: the recurrent network. The layers are PyTorch's: parameter names and shapes as
/// `torch.nn.LSTM`/`GRU`/`RNN`'s state_dict (`weight_ih_l0` [4H, I], gates i,f,g,o; GRU r,z,n
/// with the reset gate applied to the hidden product plus its bias; `weight_hr_l0` for the
/// projection), followed by a linear head; checked against PyTorch's outputs and gradients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The recurrent cell (the cells below).
    pub cell: CellKind,
    /// Units per layer (PyTorch's `hidden_size`), at least 1; required unless `params` is given.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    pub hidden_size: usize,
    /// A parameter budget instead of `hidden_size`: each trial gets the largest hidden size
    /// whose network (every layer and the head, counted as PyTorch counts `parameters()`) has
    /// at most this many trainable parameters, so cells compare at equal size. `rnnlab plan`
    /// shows each trial's count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<usize>,
    /// Stacked recurrent layers; at least 1.
    #[serde(default = "one")]
    pub layers: usize,
    /// LSTM only: size of the projected hidden state (PyTorch's `proj_size`), below
    /// `hidden_size`; 0 = none.
    #[serde(default)]
    pub proj_size: usize,
    /// Simple RNN only: its activation.
    #[serde(default)]
    pub nonlinearity: Nonlinearity,
    /// How the recurrent weights and biases are initialised.
    #[serde(default)]
    pub init: Init,
    /// Standard deviation for `init = "normal"` (> 0).
    #[serde(default = "default_init_std")]
    pub init_std: f64,
    /// LSTM only: added to the forget-gate bias at init (TensorFlow's BasicLSTMCell uses 1.0).
    #[serde(default)]
    pub forget_bias: f64,
    /// What maps the recurrent output to the task's outputs.
    #[serde(default)]
    pub head: HeadKind,
    /// How the layers are computed; both kernels compute the same function to 1e-5.
    #[serde(default)]
    pub kernel: KernelKind,
    /// Dropout probability on the outputs of every layer but the top one, in training
    /// (PyTorch's `dropout` argument of `nn.LSTM`/`GRU`/`RNN`), in [0, 1); needs `layers ≥ 2`;
    /// 0 = off.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(extend("default" = 0.0))]
    pub dropout: f64,
    /// Dropout probability on the head's input (the top layer's outputs: an `nn.Dropout` before
    /// the `nn.Linear`), in training, in [0, 1); 0 = off.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(extend("default" = 0.0))]
    pub head_dropout: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn one() -> usize {
    1
}

fn default_init_std() -> f64 {
    0.1
}

impl ModelConfig {
    /// Trainable parameters of this network on inputs of `input_size` features with a head of
    /// `output_size` outputs, counted as PyTorch's `parameters()` counts them (two bias vectors
    /// per layer, `weight_hr` with a projection).
    pub fn param_count(&self, input_size: usize, output_size: usize) -> u128 {
        let gates = self.cell.gates() as u128;
        let h = self.hidden_size as u128;
        let out = self.output_size() as u128;
        let mut total: u128 = 0;
        for layer in 0..self.layers {
            let input = if layer == 0 { input_size as u128 } else { out };
            total += gates * h * (input + out) + 2 * gates * h;
            if self.cell == CellKind::Lstm && self.proj_size > 0 {
                total += out * h;
            }
        }
        if self.head == HeadKind::Linear {
            total += (out + 1) * output_size as u128;
        }
        total
    }

    /// The largest hidden size whose network has at most `budget` parameters (`[model]
    /// params`); `None` when even one unit has more.
    pub fn hidden_size_for(&self, budget: usize, input_size: usize, output_size: usize) -> Option<usize> {
        let count = |h: usize| ModelConfig { hidden_size: h, ..self.clone() }.param_count(input_size, output_size);
        // Also above `proj_size` (an LSTM's projection must be smaller than its hidden state).
        let least = if self.proj_size > 0 { self.proj_size + 1 } else { 1 };
        if count(least) > budget as u128 {
            return None;
        }
        // The count grows with the hidden size: double, then bisect.
        let (mut lo, mut hi) = (least, least * 2);
        while count(hi) <= budget as u128 {
            lo = hi;
            hi *= 2;
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if count(mid) <= budget as u128 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }

    /// Size of what each layer emits per step.
    pub fn output_size(&self) -> usize {
        if self.proj_size > 0 {
            self.proj_size
        } else {
            self.hidden_size
        }
    }

    pub(crate) fn check(&self) -> Result<(), FieldError> {
        if self.hidden_size == 0 {
            return Err(FieldError::new(&["hidden_size"], "must be at least 1")
                .with_help("give `hidden_size = N`, or a parameter budget `params = N`"));
        }
        if self.layers == 0 {
            return Err(FieldError::new(&["layers"], "must be at least 1"));
        }
        if self.proj_size > 0 && self.cell != CellKind::Lstm {
            return Err(FieldError::new(&["proj_size"], format!("only the LSTM has a projection, not `{}`", self.cell.name()))
                .with_help("remove `proj_size`, or set it per cell with a section axis: \"model\" = [{cell = \"lstm\", proj_size = 2}, {cell = \"gru\"}]"));
        }
        if self.proj_size >= self.hidden_size && self.proj_size > 0 {
            return Err(FieldError::new(
                &["proj_size"],
                format!("must be smaller than hidden_size ({})", self.hidden_size),
            ));
        }
        if self.forget_bias != 0.0 && self.cell != CellKind::Lstm {
            return Err(FieldError::new(
                &["forget_bias"],
                format!("only the LSTM has a forget gate, not `{}`", self.cell.name()),
            ));
        }
        if self.nonlinearity != Nonlinearity::Tanh && self.cell != CellKind::Rnn {
            return Err(FieldError::new(
                &["nonlinearity"],
                "only the simple RNN (`cell = \"rnn\"`) takes a nonlinearity",
            ));
        }
        if !(self.init_std > 0.0 && self.init_std.is_finite()) {
            return Err(FieldError::new(&["init_std"], "must be a positive number"));
        }
        for (key, p) in [("dropout", self.dropout), ("head_dropout", self.head_dropout)] {
            if !(0.0..1.0).contains(&p) {
                return Err(FieldError::new(&[key], format!("must be a probability in [0, 1), not {p}")));
            }
        }
        if self.dropout > 0.0 && self.layers == 1 {
            return Err(FieldError::new(&["dropout"], "acts between stacked layers, and this network has one")
                .with_help("set `layers` to 2 or more, or drop the head's input with `head_dropout`"));
        }
        if self.head_dropout > 0.0 && self.head == HeadKind::None {
            return Err(FieldError::new(
                &["head_dropout"],
                "acts on the head's input, and `head = \"none\"` has no head",
            )
            .with_help("use a linear head, or `dropout` between stacked layers"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(cell: CellKind, proj_size: usize, layers: usize, head: HeadKind) -> ModelConfig {
        let text = format!("cell = '{}'\nhidden_size = 1\nlayers = {layers}\nproj_size = {proj_size}", cell.name());
        let mut m: ModelConfig = toml::from_str(&text).unwrap();
        m.head = head;
        m
    }

    /// The solved size is the largest whose count fits, checked against counting every size.
    #[test]
    fn a_budget_gives_the_largest_hidden_size_that_fits() {
        for (cell, proj) in [(CellKind::Lstm, 0), (CellKind::Lstm, 3), (CellKind::Gru, 0), (CellKind::Rnn, 0)] {
            for (layers, head) in [(1, HeadKind::Linear), (2, HeadKind::None)] {
                let m = model(cell, proj, layers, head);
                for budget in [50, 500, 5_000, 20_000, 123_456] {
                    let fits =
                        |h: usize| ModelConfig { hidden_size: h, ..m.clone() }.param_count(7, 5) <= budget as u128;
                    let brute = (proj + 1..1_000_000).take_while(|&h| fits(h)).last();
                    assert_eq!(
                        m.hidden_size_for(budget, 7, 5),
                        brute,
                        "{cell:?} proj {proj} {layers} layers, {budget}"
                    );
                }
            }
        }
    }
}
