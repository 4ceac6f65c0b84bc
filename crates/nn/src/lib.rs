//! Recurrent layers, heads, losses and optimizers on dfdx 0.13.
//!
//! The layers ([`cells`]) follow PyTorch exactly: parameter names, shapes and gate orders of
//! `torch.nn.LSTM` / `GRU` / `RNN`, checked against PyTorch's outputs and gradients in
//! `tests/golden.rs`. [`fused`] runs them on the CPU as one op per layer and sequence (the
//! default); the composite cells are the reference. Parameters live in dfdx tensors and, while
//! training, in the optimizers' flat buffers ([`optim`]; dfdx's own optimizers cannot hold
//! runtime-shaped tensors), which the fused path reads directly.

pub mod batch;
pub mod cells;
pub mod checkpoint;
pub mod dropout;
pub mod fused;
pub mod init;
pub mod layer;
pub mod network;
pub mod optim;
pub mod params;
pub mod tape;

pub use batch::Batch;
pub use layer::{Head, Layer};
pub use network::{Backend, Network, NnError, Outputs};
pub use rnnlab_data::{Targets, Task};

/// Sets how many threads one trial's matrix products may use (process-wide): the fused
/// kernels' products, and whether dfdx's own matmuls may go parallel. Products with more than
/// one thread run on the current rayon pool.
pub fn set_threads(n: usize) {
    fused::blas::set_threads(n);
    let threshold = if n > 1 { gemm_common::gemm::DEFAULT_THREADING_THRESHOLD } else { usize::MAX };
    gemm_common::gemm::set_threading_threshold(threshold);
}
