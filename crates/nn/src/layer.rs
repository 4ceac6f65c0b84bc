//! One recurrent layer of a network, whichever cell it is, and the linear head.

use dfdx::prelude::*;

use crate::cells::{GruLayer, LayerOutput, LstmLayer, RnnLayer};
use crate::params::{HasParams, Mapper, Visitor};

/// One layer of the stack, whichever cell it is (a few per network, so size does not matter).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Layer<D: Device<f32>> {
    Lstm(LstmLayer<usize, usize, usize, D>),
    Gru(GruLayer<usize, usize, D>),
    Rnn(RnnLayer<usize, usize, D>),
}

impl<D: Device<f32>> Layer<D> {
    /// Runs one layer over a sequence (see the cell types).
    pub fn forward<T: Tape<f32, D> + Merge<T>>(
        &self,
        xs: &[Tensor<(usize, usize), f32, D>],
        acc: &mut T,
    ) -> LayerOutput<usize, usize, usize, D> {
        match self {
            Layer::Lstm(l) => l.forward(xs, acc),
            Layer::Gru(l) => l.forward(xs, acc),
            Layer::Rnn(l) => l.forward(xs, acc),
        }
    }

    /// Rows of the input weight (gates × hidden: PyTorch's 4H, 3H, H).
    pub fn gate_rows(&self) -> usize {
        match self {
            Layer::Lstm(l) => 4 * l.w_ih[0].shape().0,
            Layer::Gru(l) => 3 * l.w_ih[0].shape().0,
            Layer::Rnn(l) => l.w_ih.shape().0,
        }
    }

    /// Width of the layer's output rows (the projection's size for a projected LSTM).
    pub fn output_size(&self) -> usize {
        match self {
            Layer::Lstm(l) => l.w_hh[0].shape().1,
            Layer::Gru(l) => l.w_hh[0].shape().0,
            Layer::Rnn(l) => l.w_hh.shape().0,
        }
    }
}

impl<D: Device<f32>> HasParams<D> for Layer<D> {
    fn visit_params<V: Visitor<D>>(&self, prefix: &str, v: &mut V) {
        match self {
            Layer::Lstm(l) => l.visit_params(prefix, v),
            Layer::Gru(l) => l.visit_params(prefix, v),
            Layer::Rnn(l) => l.visit_params(prefix, v),
        }
    }

    fn map_params<M: Mapper<D>>(&mut self, prefix: &str, m: &mut M) {
        match self {
            Layer::Lstm(l) => l.map_params(prefix, m),
            Layer::Gru(l) => l.map_params(prefix, m),
            Layer::Rnn(l) => l.map_params(prefix, m),
        }
    }
}

/// The linear head `head.weight` [outputs, features], `head.bias` [outputs].
#[derive(Debug, Clone)]
pub struct Head<D: Device<f32>> {
    pub weight: Tensor<(usize, usize), f32, D>,
    pub bias: Tensor<(usize,), f32, D>,
}
