//! Simple (Elman) RNN layer, PyTorch's formulation: h' = act(W_ih x + b_ih + W_hh h + b_hh).

use dfdx::prelude::*;
use rnnlab_spec::{ModelConfig, Nonlinearity};

use super::{pname, Cell, LayerOutput};
use crate::params::{HasParams, Mapper, Visitor};
use crate::tape::{affine, keep, matmul_t, use_};

/// One simple RNN layer: input `I`, hidden `H`, tanh or relu.
#[derive(Debug, Clone)]
pub struct RnnLayer<I: Dim, H: Dim, D: Device<f32>> {
    pub index: usize,
    pub relu: bool,
    pub w_ih: Tensor<(H, I), f32, D>,
    pub w_hh: Tensor<(H, H), f32, D>,
    pub b_ih: Tensor<(H,), f32, D>,
    pub b_hh: Tensor<(H,), f32, D>,
}

impl<I: Dim, H: Dim, D: Device<f32>> RnnLayer<I, H, D> {
    pub fn zeros(dev: &D, index: usize, input: I, hidden: H, relu: bool) -> Self {
        RnnLayer {
            index,
            relu,
            w_ih: dev.zeros_like(&(hidden, input)),
            w_hh: dev.zeros_like(&(hidden, hidden)),
            b_ih: dev.zeros_like(&(hidden,)),
            b_hh: dev.zeros_like(&(hidden,)),
        }
    }

    /// Runs the sequence `xs` from zero state; every op's tape goes into `acc`.
    pub fn forward<B: Dim, T: Tape<f32, D> + Merge<T>>(
        &self,
        xs: &[Tensor<(B, I), f32, D>],
        acc: &mut T,
    ) -> LayerOutput<B, H, H, D> {
        let dev = self.b_ih.device().clone();
        let batch = xs[0].shape().0;
        let bias = keep(use_::<_, D, T>(&self.b_ih) + use_::<_, D, T>(&self.b_hh), acc);
        let mut h: Tensor<(B, H), f32, D> = dev.zeros_like(&(batch, self.w_hh.shape().0));
        let mut outputs = Vec::with_capacity(xs.len());
        for x in xs {
            let pre = affine::<B, I, H, D, T>(x, &self.w_ih, &bias) + matmul_t::<B, H, H, D, T>(&h, &self.w_hh);
            let h_new = if self.relu { pre.relu() } else { pre.tanh() };
            h = keep(h_new, acc);
            outputs.push(h.clone());
        }
        LayerOutput { outputs, h_n: h, c_n: None }
    }
}

/// The layer with sizes read from a spec (what `Layer::Rnn` holds).
pub type Dynamic<D> = RnnLayer<usize, usize, D>;

impl<D: Device<f32>> Cell<D> for Dynamic<D> {
    fn zeros(dev: &D, config: &ModelConfig, index: usize, input: usize) -> Self {
        RnnLayer::zeros(dev, index, input, config.hidden_size, config.nonlinearity == Nonlinearity::Relu)
    }

    fn gate_rows(&self) -> usize {
        self.w_ih.shape().0
    }

    fn output_size(&self) -> usize {
        self.w_hh.shape().0
    }
}

impl<I: Dim, H: Dim, D: Device<f32>> HasParams<D> for RnnLayer<I, H, D> {
    fn visit_params<V: Visitor<D>>(&self, prefix: &str, v: &mut V) {
        let l = self.index;
        v.visit(&pname(prefix, "weight_ih", l), &self.w_ih);
        v.visit(&pname(prefix, "weight_hh", l), &self.w_hh);
        v.visit(&pname(prefix, "bias_ih", l), &self.b_ih);
        v.visit(&pname(prefix, "bias_hh", l), &self.b_hh);
    }

    fn map_params<M: Mapper<D>>(&mut self, prefix: &str, m: &mut M) {
        let l = self.index;
        m.map(&pname(prefix, "weight_ih", l), &mut self.w_ih);
        m.map(&pname(prefix, "weight_hh", l), &mut self.w_hh);
        m.map(&pname(prefix, "bias_ih", l), &mut self.b_ih);
        m.map(&pname(prefix, "bias_hh", l), &mut self.b_hh);
    }
}
