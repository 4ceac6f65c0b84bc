//! GRU layer, PyTorch's formulation (gates r, z, n; the reset gate multiplies the hidden
//! matmul plus its bias): n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.

use dfdx::prelude::*;
use rnnlab_spec::ModelConfig;

use super::{pname, Cell, LayerOutput};
use crate::params::{HasParams, Mapper, Visitor};
use crate::tape::{affine, keep, use_};

/// One GRU layer: input `I`, hidden `H`.
#[derive(Debug, Clone)]
pub struct GruLayer<I: Dim, H: Dim, D: Device<f32>> {
    pub index: usize,
    /// Per gate (r, z, n), each `[H, I]`.
    pub w_ih: [Tensor<(H, I), f32, D>; 3],
    /// Per gate, each `[H, H]`.
    pub w_hh: [Tensor<(H, H), f32, D>; 3],
    pub b_ih: [Tensor<(H,), f32, D>; 3],
    pub b_hh: [Tensor<(H,), f32, D>; 3],
}

impl<I: Dim, H: Dim, D: Device<f32>> GruLayer<I, H, D> {
    pub fn zeros(dev: &D, index: usize, input: I, hidden: H) -> Self {
        GruLayer {
            index,
            w_ih: std::array::from_fn(|_| dev.zeros_like(&(hidden, input))),
            w_hh: std::array::from_fn(|_| dev.zeros_like(&(hidden, hidden))),
            b_ih: std::array::from_fn(|_| dev.zeros_like(&(hidden,))),
            b_hh: std::array::from_fn(|_| dev.zeros_like(&(hidden,))),
        }
    }

    /// Runs the sequence `xs` from zero state; every op's tape goes into `acc`.
    pub fn forward<B: Dim, T: Tape<f32, D> + Merge<T>>(
        &self,
        xs: &[Tensor<(B, I), f32, D>],
        acc: &mut T,
    ) -> LayerOutput<B, H, H, D> {
        let dev = self.b_ih[0].device().clone();
        let batch = xs[0].shape().0;
        let hidden = self.w_hh[0].shape().0;
        // r and z add both biases; n keeps b_hn inside the reset product.
        let bias: [Tensor<(H,), f32, D>; 2] =
            std::array::from_fn(|k| keep(use_::<_, D, T>(&self.b_ih[k]) + use_::<_, D, T>(&self.b_hh[k]), acc));
        let mut h: Tensor<(B, H), f32, D> = dev.zeros_like(&(batch, hidden));
        let mut outputs = Vec::with_capacity(xs.len());
        for x in xs {
            let gate = |k: usize| -> Tensor<(B, H), f32, D, T> {
                affine::<B, I, H, D, T>(x, &self.w_ih[k], &bias[k])
                    + crate::tape::matmul_t::<B, H, H, D, T>(&h, &self.w_hh[k])
            };
            let r = gate(0).sigmoid();
            let z = keep(gate(1).sigmoid(), acc);
            let hn = affine::<B, H, H, D, T>(&h, &self.w_hh[2], &self.b_hh[2]);
            let n = affine::<B, I, H, D, T>(x, &self.w_ih[2], &self.b_ih[2]) + r * hn;
            let n = keep(n.tanh(), acc);
            // h' = n + z ⊙ (h − n)
            let h_new = use_::<_, D, T>(&n) + use_::<_, D, T>(&z) * (use_::<_, D, T>(&h) - use_::<_, D, T>(&n));
            h = keep(h_new, acc);
            outputs.push(h.clone());
        }
        LayerOutput { outputs, h_n: h, c_n: None }
    }
}

/// The layer with sizes read from a spec (what `Layer::Gru` holds).
pub type Dynamic<D> = GruLayer<usize, usize, D>;

impl<D: Device<f32>> Cell<D> for Dynamic<D> {
    fn zeros(dev: &D, config: &ModelConfig, index: usize, input: usize) -> Self {
        GruLayer::zeros(dev, index, input, config.hidden_size)
    }

    fn gate_rows(&self) -> usize {
        3 * self.w_ih[0].shape().0
    }

    fn output_size(&self) -> usize {
        self.w_hh[0].shape().0
    }
}

impl<I: Dim, H: Dim, D: Device<f32>> HasParams<D> for GruLayer<I, H, D> {
    fn visit_params<V: Visitor<D>>(&self, prefix: &str, v: &mut V) {
        let l = self.index;
        self.w_ih.iter().for_each(|t| v.visit(&pname(prefix, "weight_ih", l), t));
        self.w_hh.iter().for_each(|t| v.visit(&pname(prefix, "weight_hh", l), t));
        self.b_ih.iter().for_each(|t| v.visit(&pname(prefix, "bias_ih", l), t));
        self.b_hh.iter().for_each(|t| v.visit(&pname(prefix, "bias_hh", l), t));
    }

    fn map_params<M: Mapper<D>>(&mut self, prefix: &str, m: &mut M) {
        let l = self.index;
        self.w_ih.iter_mut().for_each(|t| m.map(&pname(prefix, "weight_ih", l), t));
        self.w_hh.iter_mut().for_each(|t| m.map(&pname(prefix, "weight_hh", l), t));
        self.b_ih.iter_mut().for_each(|t| m.map(&pname(prefix, "bias_ih", l), t));
        self.b_hh.iter_mut().for_each(|t| m.map(&pname(prefix, "bias_hh", l), t));
    }
}
