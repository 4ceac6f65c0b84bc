//! One recurrent layer of a network, whichever cell it is, and the linear head.

use dfdx::prelude::*;

use rnnlab_spec::{CellKind, ModelConfig};

use crate::cells::{Cell, LayerOutput};
use crate::params::{HasParams, Mapper, Visitor};

// `Layer` has one variant per line of the cell registry (`rnnlab_spec::for_each_cell!`),
// holding `cells::<name>::Dynamic`, and dispatches every method to its `Cell` impl.
macro_rules! define_layer {
    ({} $(($variant:ident, $name:ident, $gates:literal),)*) => {
        /// One layer of the stack, whichever cell it is (a few per network, so size does not
        /// matter).
        #[derive(Debug, Clone)]
        #[allow(clippy::large_enum_variant)]
        pub enum Layer<D: Device<f32>> {
            $($variant(crate::cells::$name::Dynamic<D>),)*
        }

        impl<D: Device<f32>> Layer<D> {
            /// Layer `index` of the stack `config` describes, reading `input` features, every
            /// parameter zero.
            pub fn zeros(dev: &D, config: &ModelConfig, index: usize, input: usize) -> Self {
                match config.cell {
                    $(CellKind::$variant => Layer::$variant(Cell::zeros(dev, config, index, input)),)*
                }
            }

            /// Runs one layer over a sequence (see the cell types).
            pub fn forward<T: Tape<f32, D> + Merge<T>>(
                &self,
                xs: &[Tensor<(usize, usize), f32, D>],
                acc: &mut T,
            ) -> LayerOutput<usize, usize, usize, D> {
                match self {
                    $(Layer::$variant(l) => l.forward(xs, acc),)*
                }
            }

            /// Rows of the input weight (gates × hidden: PyTorch's 4H, 3H, H).
            pub fn gate_rows(&self) -> usize {
                match self {
                    $(Layer::$variant(l) => l.gate_rows(),)*
                }
            }

            /// Width of the layer's output rows (the projection's size for a projected LSTM).
            pub fn output_size(&self) -> usize {
                match self {
                    $(Layer::$variant(l) => Cell::output_size(l),)*
                }
            }
        }

        impl<D: Device<f32>> HasParams<D> for Layer<D> {
            fn visit_params<V: Visitor<D>>(&self, prefix: &str, v: &mut V) {
                match self {
                    $(Layer::$variant(l) => l.visit_params(prefix, v),)*
                }
            }

            fn map_params<M: Mapper<D>>(&mut self, prefix: &str, m: &mut M) {
                match self {
                    $(Layer::$variant(l) => l.map_params(prefix, m),)*
                }
            }
        }
    };
}

rnnlab_spec::for_each_cell!(define_layer!);

/// The linear head `head.weight` [outputs, features], `head.bias` [outputs].
#[derive(Debug, Clone)]
pub struct Head<D: Device<f32>> {
    pub weight: Tensor<(usize, usize), f32, D>,
    pub bias: Tensor<(usize,), f32, D>,
}
