//! Recurrent layers with PyTorch's parameters, generic over dfdx dimensions.
//!
//! Each layer type takes its sizes as dfdx `Dim`s: `usize` for sizes read from a spec (checked
//! at run time) or `Const<N>` for compile-time shape checks. A layer runs a whole sequence
//! (`forward`), time-major as a slice of per-step `[batch, input]` tensors, from zero state.

mod gru;
mod lstm;
mod rnn;

pub use gru::GruLayer;
pub use lstm::LstmLayer;
pub use rnn::RnnLayer;

use dfdx::prelude::*;

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
