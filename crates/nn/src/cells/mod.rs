//! Recurrent layers with PyTorch's parameters, generic over dfdx dimensions.
//!
//! Each layer type takes its sizes as dfdx `Dim`s: `usize` for sizes read from a spec (checked
//! at run time) or `Const<N>` for compile-time shape checks. A layer runs a whole sequence
//! (`forward`), time-major as a slice of per-step `[batch, input]` tensors, from zero state.

pub(crate) mod gru;
pub(crate) mod lstm;
pub(crate) mod rnn;

pub use gru::GruLayer;
pub use lstm::LstmLayer;
pub use rnn::RnnLayer;

use dfdx::prelude::*;
use rnnlab_spec::ModelConfig;

use crate::params::HasParams;

/// What a network needs of a cell's layer with its sizes read from a spec, besides the cell
/// type's own `forward` over a sequence. Each cell's file implements it for its `Dynamic`
/// alias, the type `Layer` holds; `Layer` dispatches to it (the cells are listed once, in
/// `rnnlab_spec::for_each_cell!`).
pub trait Cell<D: Device<f32>>: HasParams<D> + Clone + std::fmt::Debug {
    /// Layer `index` of the stack, reading `input` features, every parameter zero; sizes and
    /// options from `config`.
    fn zeros(dev: &D, config: &ModelConfig, index: usize, input: usize) -> Self;

    /// Rows of the input weight (gates × hidden).
    fn gate_rows(&self) -> usize;

    /// Width of the layer's output rows.
    fn output_size(&self) -> usize;
}

/// What one layer computes over a sequence (tape-free; the tape is in the caller's accumulator).
#[derive(Debug, Clone)]
pub struct LayerOutput<B: Dim, P: Dim, H: Dim, D: Device<f32>> {
    /// The layer's output at every step, `[batch, output]`.
    pub outputs: Vec<Tensor<(B, P), f32, D>>,
    /// Final hidden state (the last output).
    pub h_n: Tensor<(B, P), f32, D>,
    /// Final cell state (LSTM only).
    pub c_n: Option<Tensor<(B, H), f32, D>>,
}

/// PyTorch's name for a layer parameter, e.g. `rnn.weight_ih_l0`.
pub(crate) fn pname(prefix: &str, what: &str, layer: usize) -> String {
    format!("{prefix}{what}_l{layer}")
}
