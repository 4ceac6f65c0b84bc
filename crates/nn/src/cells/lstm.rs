//! LSTM layer, PyTorch's formulation (gates i, f, g, o), with optional projection
//! (`proj_size`, PyTorch's `weight_hr`): h_t = W_hr (o ⊙ tanh c_t).

use dfdx::prelude::*;
use rnnlab_spec::ModelConfig;

use super::{pname, Cell, LayerOutput};
use crate::params::{HasParams, Mapper, Visitor};
use crate::tape::{affine, keep, matmul_t, use_};

/// One LSTM layer: input `I`, hidden `H`, output `P` (= `H` without projection).
#[derive(Debug, Clone)]
pub struct LstmLayer<I: Dim, H: Dim, P: Dim, D: Device<f32>> {
    /// Layer index in the stack (for parameter names).
    pub index: usize,
    /// Input weights per gate (i, f, g, o), each `[H, I]`.
    pub w_ih: [Tensor<(H, I), f32, D>; 4],
    /// Recurrent weights per gate, each `[H, P]`.
    pub w_hh: [Tensor<(H, P), f32, D>; 4],
    pub b_ih: [Tensor<(H,), f32, D>; 4],
    pub b_hh: [Tensor<(H,), f32, D>; 4],
    /// Projection `[P, H]`, when `P` is a projection size.
    pub w_hr: Option<Tensor<(P, H), f32, D>>,
}

impl<I: Dim, H: Dim, P: Dim, D: Device<f32>> LstmLayer<I, H, P, D> {
    /// A zero-initialised layer. `proj` adds the projection `[P, H]`; without it `P` must equal `H`.
    pub fn zeros(dev: &D, index: usize, input: I, hidden: H, output: P, proj: bool) -> Self {
        assert!(proj || hidden.size() == output.size(), "an LSTM without projection outputs its hidden size");
        LstmLayer {
            index,
            w_ih: std::array::from_fn(|_| dev.zeros_like(&(hidden, input))),
            w_hh: std::array::from_fn(|_| dev.zeros_like(&(hidden, output))),
            b_ih: std::array::from_fn(|_| dev.zeros_like(&(hidden,))),
            b_hh: std::array::from_fn(|_| dev.zeros_like(&(hidden,))),
            w_hr: proj.then(|| dev.zeros_like(&(output, hidden))),
        }
    }

    /// Runs the sequence `xs` from zero state; every op's tape goes into `acc`.
    pub fn forward<B: Dim, T: Tape<f32, D> + Merge<T>>(
        &self,
        xs: &[Tensor<(B, I), f32, D>],
        acc: &mut T,
    ) -> LayerOutput<B, P, H, D> {
        let dev = self.b_ih[0].device().clone();
        let batch = xs[0].shape().0;
        let (hidden, output) = (self.w_hh[0].shape().0, self.w_hh[0].shape().1);
        // b_ih + b_hh once per sequence (the gradient reaches both).
        let bias: [Tensor<(H,), f32, D>; 4] =
            std::array::from_fn(|k| keep(use_::<_, D, T>(&self.b_ih[k]) + use_::<_, D, T>(&self.b_hh[k]), acc));
        let mut h: Tensor<(B, P), f32, D> = dev.zeros_like(&(batch, output));
        let mut c: Tensor<(B, H), f32, D> = dev.zeros_like(&(batch, hidden));
        let mut outputs = Vec::with_capacity(xs.len());
        for x in xs {
            let pre = |k: usize| -> Tensor<(B, H), f32, D, T> {
                let xw = affine::<B, I, H, D, T>(x, &self.w_ih[k], &bias[k]);
                xw + matmul_t::<B, P, H, D, T>(&h, &self.w_hh[k])
            };
            let i = pre(0).sigmoid();
            let f = pre(1).sigmoid();
            let g = pre(2).tanh();
            let o = pre(3).sigmoid();
            let c_new = keep(f * use_::<_, D, T>(&c) + i * g, acc);
            let h_full = o * use_::<_, D, T>(&c_new).tanh();
            let h_new = match &self.w_hr {
                Some(w_hr) => {
                    let h_full = keep(h_full, acc);
                    matmul_t::<B, H, P, D, T>(&h_full, w_hr)
                }
                None => match h_full.try_realize::<(B, P)>() {
                    Ok(h) => h,
                    Err(_) => unreachable!("checked in `zeros`: output size equals hidden size"),
                },
            };
            h = keep(h_new, acc);
            c = c_new;
            outputs.push(h.clone());
        }
        LayerOutput { outputs, h_n: h, c_n: Some(c) }
    }
}

/// The layer with sizes read from a spec (what `Layer::Lstm` holds).
pub type Dynamic<D> = LstmLayer<usize, usize, usize, D>;

impl<D: Device<f32>> Cell<D> for Dynamic<D> {
    fn zeros(dev: &D, config: &ModelConfig, index: usize, input: usize) -> Self {
        LstmLayer::zeros(dev, index, input, config.hidden_size, config.output_size(), config.proj_size > 0)
    }

    fn gate_rows(&self) -> usize {
        4 * self.w_ih[0].shape().0
    }

    fn output_size(&self) -> usize {
        self.w_hh[0].shape().1
    }
}

impl<I: Dim, H: Dim, P: Dim, D: Device<f32>> HasParams<D> for LstmLayer<I, H, P, D> {
    fn visit_params<V: Visitor<D>>(&self, prefix: &str, v: &mut V) {
        let l = self.index;
        self.w_ih.iter().for_each(|t| v.visit(&pname(prefix, "weight_ih", l), t));
        self.w_hh.iter().for_each(|t| v.visit(&pname(prefix, "weight_hh", l), t));
        self.b_ih.iter().for_each(|t| v.visit(&pname(prefix, "bias_ih", l), t));
        self.b_hh.iter().for_each(|t| v.visit(&pname(prefix, "bias_hh", l), t));
        if let Some(w) = &self.w_hr {
            v.visit(&pname(prefix, "weight_hr", l), w);
        }
    }

    fn map_params<M: Mapper<D>>(&mut self, prefix: &str, m: &mut M) {
        let l = self.index;
        self.w_ih.iter_mut().for_each(|t| m.map(&pname(prefix, "weight_ih", l), t));
        self.w_hh.iter_mut().for_each(|t| m.map(&pname(prefix, "weight_hh", l), t));
        self.b_ih.iter_mut().for_each(|t| m.map(&pname(prefix, "bias_ih", l), t));
        self.b_hh.iter_mut().for_each(|t| m.map(&pname(prefix, "bias_hh", l), t));
        if let Some(w) = &mut self.w_hr {
            m.map(&pname(prefix, "weight_hr", l), w);
        }
    }
}
