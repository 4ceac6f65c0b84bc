//! Visiting a model's parameters by their PyTorch names, and flat copies of values and
//! gradients for the optimizers.
//!
//! A PyTorch parameter such as `weight_ih_l0` [4H, I] is held as one tensor per gate
//! ([H, I] each, gates in PyTorch's order); a visitor sees the gate tensors one after the other
//! under the same name, so concatenating what it sees gives PyTorch's row-major layout.

use dfdx::prelude::*;

/// Something that reads every parameter tensor of a model, in a fixed order (counting,
/// naming, saving, flattening): needs only `&` access.
pub trait Visitor<D: Device<f32>> {
    fn visit<S: Shape>(&mut self, name: &str, tensor: &Tensor<S, f32, D>);
}

/// Something that rewrites every parameter tensor of a model, in the same order
/// (initialising, loading, setting values).
pub trait Mapper<D: Device<f32>> {
    fn map<S: Shape>(&mut self, name: &str, tensor: &mut Tensor<S, f32, D>);
}

/// A model (or part of one) with named parameters.
pub trait HasParams<D: Device<f32>> {
    /// Shows `visitor` every parameter, names prefixed by `prefix`.
    fn visit_params<V: Visitor<D>>(&self, prefix: &str, visitor: &mut V);
    /// Lets `mapper` rewrite every parameter, in [`HasParams::visit_params`]'s order.
    fn map_params<M: Mapper<D>>(&mut self, prefix: &str, mapper: &mut M);
}

/// One PyTorch parameter: its name, its shape and where it sits in the flat vector.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub len: usize,
}

/// Names, shapes and offsets of all parameters, gate chunks merged into PyTorch's tensors.
pub fn param_infos<D: Device<f32>, M: HasParams<D>>(model: &M) -> Vec<ParamInfo> {
    struct Infos(Vec<ParamInfo>, usize);
    impl<D: Device<f32>> Visitor<D> for Infos {
        fn visit<S: Shape>(&mut self, name: &str, t: &Tensor<S, f32, D>) {
            let dims = t.shape().concrete();
            let dims: Vec<usize> = dims.into_iter().collect();
            let len = t.shape().num_elements();
            match self.0.last_mut() {
                Some(last) if last.name == name => {
                    last.shape[0] += dims[0];
                    last.len += len;
                }
                _ => self.0.push(ParamInfo { name: name.to_string(), shape: dims, offset: self.1, len }),
            }
            self.1 += len;
        }
    }
    let mut v = Infos(Vec::new(), 0);
    model.visit_params("", &mut v);
    v.0
}

/// All parameter values, concatenated in visiting order.
pub fn flat_values<D: Device<f32>, M: HasParams<D>>(model: &M) -> Vec<f32> {
    struct Values(Vec<f32>);
    impl<D: Device<f32>> Visitor<D> for Values {
        fn visit<S: Shape>(&mut self, _: &str, t: &Tensor<S, f32, D>) {
            self.0.extend(t.as_vec());
        }
    }
    let mut v = Values(Vec::new());
    model.visit_params("", &mut v);
    v.0
}

/// Writes `values` (as from [`flat_values`]) into the model's tensors.
pub fn set_flat_values<D: Device<f32>, M: HasParams<D>>(model: &mut M, values: &[f32]) {
    struct Set<'a>(&'a [f32]);
    impl<D: Device<f32>> Mapper<D> for Set<'_> {
        fn map<S: Shape>(&mut self, _: &str, t: &mut Tensor<S, f32, D>) {
            let n = t.shape().num_elements();
            t.copy_from(&self.0[..n]);
            self.0 = &self.0[n..];
        }
    }
    let mut v = Set(values);
    model.map_params("", &mut v);
    assert!(v.0.is_empty(), "flat parameter vector longer than the model");
}

/// The gradient of every parameter, concatenated in visiting order (zeros where none flowed).
pub fn flat_grads<D: Device<f32>, M: HasParams<D>>(model: &M, grads: &mut Gradients<f32, D>) -> Vec<f32> {
    struct Grads<'a, D: Device<f32>>(Vec<f32>, &'a mut Gradients<f32, D>);
    impl<D: Device<f32>> Visitor<D> for Grads<'_, D> {
        fn visit<S: Shape>(&mut self, _: &str, t: &Tensor<S, f32, D>) {
            self.1.try_alloc_for(t).expect("allocating a gradient");
            self.0.extend(self.1.get(t).as_vec());
        }
    }
    let mut v = Grads(Vec::new(), grads);
    model.visit_params("", &mut v);
    v.0
}

/// Number of scalar parameters.
pub fn count<D: Device<f32>, M: HasParams<D>>(model: &M) -> usize {
    struct Count(usize);
    impl<D: Device<f32>> Visitor<D> for Count {
        fn visit<S: Shape>(&mut self, _: &str, t: &Tensor<S, f32, D>) {
            self.0 += t.shape().num_elements();
        }
    }
    let mut c = Count(0);
    model.visit_params("", &mut c);
    c.0
}
