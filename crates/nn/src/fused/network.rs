//! A whole network on the fused kernels, without a dfdx tape: the training step (layers,
//! dropout, head and loss forward, then each layer's backward pass in reverse) and the
//! inference path, both on the thread's pooled buffers. `impl Backend for Cpu` lives here, so
//! the network type finds these through its `Backend` trait and never calls into `fused`.

use super::{head, pool, with_kernel, with_kernel_arms, Kernel, OutputGrad, SeqDims, Upstream};
use crate::batch::{row_targets, Batch};
use crate::dropout::Masks;
use crate::network::{Backend, Network};
use dfdx::prelude::Cpu;

/// A layer's backward pass, waiting for its input `[T·B, I]`, its outputs `[T·B, P]` and their
/// gradient: returns the input's gradient (when the layer below needs it) and the layer's
/// parameter gradient.
type LayerBackward<'a> = Box<dyn FnOnce(&[f32], &[f32], OutputGrad<'_>) -> (Option<Vec<f32>>, Vec<f32>) + 'a>;

/// Multiplies `x` by a dropout mask in place (the forward and the backward of dropout).
fn drop_in_place(x: &mut [f32], mask: Option<&Vec<f32>>) {
    if let Some(mask) = mask {
        assert_eq!(x.len(), mask.len(), "dropout mask size differs from its rows");
        x.iter_mut().zip(mask).for_each(|(v, m)| *v *= m);
    }
}

/// A copy of `x` through a dropout mask, or `None` (use `x` itself) without one.
fn dropped(x: &[f32], mask: Option<&Vec<f32>>) -> Option<Vec<f32>> {
    mask.map(|_| {
        let mut v = pool::copy(x);
        drop_in_place(&mut v, mask);
        v
    })
}

/// Layer `l`'s input: the batch's inputs for the first layer, else the outputs of the layer
/// below, or their copy through a dropout mask when there is one (`inputs[l]`).
fn layer_input<'a>(l: usize, batch: &'a [f32], outs: &'a [Vec<f32>], inputs: &'a [Option<Vec<f32>>]) -> &'a [f32] {
    match (&inputs[l], l) {
        (Some(x), _) => x,
        (None, 0) => batch,
        (None, _) => &outs[l - 1],
    }
}

/// The training loss of `batch` (with `masks`' dropout) and the gradient of every parameter,
/// flat in the network's visiting order: the fused layers, head and loss on this thread's
/// pooled buffers, each layer's backward pass run in reverse from the loss, no dfdx tape.
/// The parameters are read from `params` (flat, visiting order: the optimizer's buffer) when
/// given, else from the network's tensors. Each layer's outputs are kept once, as the next
/// layer's input and for the layer's own backward pass; a dropout mask between layers makes
/// the one copy it needs.
pub fn network_loss_and_grads(
    net: &Network<Cpu>,
    params: Option<&[f32]>,
    batch: &Batch,
    masks: Option<&Masks>,
) -> (f32, Vec<f32>) {
    let owned;
    let params = match params {
        Some(p) => p,
        None => {
            owned = crate::params::flat_values(net);
            &owned[..]
        }
    };
    let mut offset = 0;
    let d = SeqDims { steps: batch.steps, batch: batch.size };
    let top = net.layers.len() - 1;
    let last_only = !net.task.per_step();
    let between = |l: usize| masks.and_then(|m| m.between.get(l)).and_then(Option::as_ref);
    // Layer l's outputs, and its input when dropout changed the layer below's outputs.
    let mut outs: Vec<Vec<f32>> = Vec::with_capacity(net.layers.len());
    let mut inputs: Vec<Option<Vec<f32>>> = Vec::with_capacity(net.layers.len());
    let mut backs: Vec<LayerBackward> = Vec::with_capacity(net.layers.len());
    for (l, layer) in net.layers.iter().enumerate() {
        let n = crate::params::count(layer);
        let p = &params[offset..offset + n];
        offset += n;
        let need_dx = l > 0;
        inputs.push(if l > 0 { dropped(&outs[l - 1], between(l - 1)) } else { None });
        let x = layer_input(l, &batch.inputs, &outs, &inputs);
        let (out, back): (Vec<f32>, LayerBackward) = with_kernel!(layer, k => {
            let pass = k.forward(p, x, d, true);
            pool::recycle([pass.cell]);
            let saved = pass.saved.expect("a training pass keeps what its backward needs");
            let back: LayerBackward = Box::new(move |x: &[f32], y: &[f32], dy: OutputGrad<'_>| {
                k.backward(p, x, saved, Upstream { y, dy, dcell: &[] }, d, need_dx)
            });
            (pass.out, back)
        });
        outs.push(out);
        backs.push(back);
    }
    let width = outs[top].len() / (d.steps * d.batch);
    let head_mask = masks.and_then(|m| m.head.as_ref());
    let head_in = if last_only {
        let mut last = pool::copy(&outs[top][(d.steps - 1) * d.batch * width..]);
        drop_in_place(&mut last, head_mask);
        Some(last)
    } else {
        dropped(&outs[top], head_mask)
    };
    let x = head_in.as_deref().unwrap_or(&outs[top]);
    let rows = x.len() / width;
    let head_params = net.head.as_ref().map(|_| &params[offset..]);
    let head = head::HeadValues::of_flat(head_params, width);
    let targets = row_targets(batch, net.task);
    // Through a head at every step without dropout, the top layer forms each step's gradient
    // from the head's (`OutputGrad::Head`) rather than reading a stored one.
    let head_w = head_params.filter(|_| !last_only && head_mask.is_none()).map(|p| &p[..p.len() / (width + 1) * width]);
    let weights = batch.mask.as_deref();
    let (loss, mut dy, head_grads) = head::loss_and_backward(x, rows, width, head, targets, weights, head_w.is_none());
    pool::recycle(head_in);
    drop_in_place(&mut dy, head_mask);
    let mut layer_grads = Vec::with_capacity(backs.len());
    for (l, back) in backs.into_iter().enumerate().rev() {
        let width = outs[l].len() / (d.steps * d.batch);
        if l == top && last_only {
            // Only the last step was scored: the other steps' outputs get no gradient.
            let mut full = pool::zeros(d.steps * d.batch * width);
            full[(d.steps - 1) * d.batch * width..].copy_from_slice(&dy);
            pool::recycle([std::mem::replace(&mut dy, full)]);
        }
        if l < top {
            drop_in_place(&mut dy, between(l));
        }
        let x = layer_input(l, &batch.inputs, &outs, &inputs);
        let grad = match head_w.filter(|_| l == top) {
            Some(w) => OutputGrad::Head { dz: &dy, w },
            None => OutputGrad::Dense(&dy),
        };
        let (dx, dp) = back(x, &outs[l], grad);
        pool::recycle([std::mem::replace(&mut dy, dx.unwrap_or_default())]);
        pool::recycle(outs.pop());
        pool::recycle(inputs.pop().flatten());
        layer_grads.push(dp);
    }
    pool::recycle([dy]);
    // One copy per layer (a flattening iterator would push value by value).
    let head_len = head_grads.as_ref().map_or(0, |(dw, db)| dw.len() + db.len());
    let mut grads = Vec::with_capacity(layer_grads.iter().map(Vec::len).sum::<usize>() + head_len);
    for dp in layer_grads.iter().rev() {
        grads.extend_from_slice(dp);
    }
    if let Some((dw, db)) = head_grads {
        grads.extend_from_slice(&dw);
        grads.extend_from_slice(&db);
    }
    (loss as f32, grads)
}

/// The stacked predictions `[S·B, outputs]` of `batch`: the inference path. Forward only, on
/// this thread's pooled buffers (no tensors, no tape, nothing saved for a backward pass), in
/// blocks of rows small enough that a step's buffers stay in cache (sequences are independent,
/// so the blocks' predictions are the batch's), so evaluating a large test set neither maps
/// fresh memory per batch nor streams every step's gates through main memory.
pub fn network_predict(net: &Network<Cpu>, batch: &Batch) -> Vec<f32> {
    let (steps, size, input) = (batch.steps, batch.size, batch.input_size);
    // Each layer's parameters, read once for all blocks.
    let params: Vec<Vec<f32>> = net.layers.iter().map(crate::params::flat_values).collect();
    let block = block_rows(net);
    if size <= block {
        return predict_block(net, &params, pool::copy(&batch.inputs), steps, size);
    }
    let scored = if net.task.per_step() { steps } else { 1 };
    let c = net.task.output_size();
    let mut out = vec![0.0; scored * size * c];
    for start in (0..size).step_by(block) {
        let b = block.min(size - start);
        let mut x = pool::scratch(steps * b * input);
        for t in 0..steps {
            let from = (t * size + start) * input;
            x[t * b * input..(t + 1) * b * input].copy_from_slice(&batch.inputs[from..from + b * input]);
        }
        let part = predict_block(net, &params, x, steps, b);
        for s in 0..scored {
            out[(s * size + start) * c..(s * size + start + b) * c].copy_from_slice(&part[s * b * c..(s + 1) * b * c]);
        }
        pool::recycle([part]);
    }
    out
}

/// Rows per inference block: about 2 MB of a step's gate, state and output buffers.
fn block_rows(net: &Network<Cpu>) -> usize {
    let per_row: usize = net.layers.iter().map(|l| 4 * (3 * l.gate_rows() + l.output_size())).max().unwrap_or(1);
    ((2 << 20) / per_row.max(1)).max(64)
}

/// The predictions `[S·b, outputs]` of the `b` time-major sequences `x` `[T·b, I]` (which it
/// returns to the pool), with each layer's flat parameters in `params`.
fn predict_block(net: &Network<Cpu>, params: &[Vec<f32>], mut x: Vec<f32>, steps: usize, b: usize) -> Vec<f32> {
    let d = SeqDims { steps, batch: b };
    let top = net.layers.len() - 1;
    let mut width = x.len() / (steps * b);
    for (l, (layer, p)) in net.layers.iter().zip(params).enumerate() {
        let (mut out, cell) = with_kernel!(layer, k => {
            let pass = k.forward(p, &x, d, false);
            (pass.out, pass.cell)
        });
        width = out.len() / (steps * b);
        if l == top && !net.task.per_step() {
            let last = pool::copy(&out[(steps - 1) * b * width..]);
            pool::recycle([std::mem::replace(&mut out, last)]);
        }
        pool::recycle([std::mem::replace(&mut x, out), cell]);
    }
    let logits = head::logits_of(&x, x.len() / width, width, net.head.as_ref());
    pool::recycle([x]);
    logits
}

/// The CPU runs whole networks through the fused kernels.
impl Backend for Cpu {
    fn fused_loss_and_grads(
        net: &Network<Self>,
        params: Option<&[f32]>,
        batch: &Batch,
        masks: Option<&Masks>,
    ) -> Option<(f32, Vec<f32>)> {
        Some(network_loss_and_grads(net, params, batch, masks))
    }

    fn fused_predict(net: &Network<Self>, batch: &Batch) -> Option<Vec<f32>> {
        Some(network_predict(net, batch))
    }
}
