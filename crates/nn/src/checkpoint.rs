//! Parameters in safetensors under PyTorch's `state_dict` names (`rnn.weight_ih_l0`, …,
//! `head.weight`, `head.bias`), f32, row-major, so that `safetensors.torch.load_file` feeds
//! `torch.nn.LSTM`/`GRU`/`RNN` and `nn.Linear` directly.

use std::collections::HashMap;

use ::safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::network::{Backend, Network};
use crate::params::{flat_values, param_infos, set_flat_values};

/// Why a checkpoint does not load into a network.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a readable safetensors file ({0}); the file may be truncated or not a checkpoint")]
    Format(String),
    #[error("has no tensor `{name}` (shape {shape:?}), which the model described in model.toml needs")]
    Missing { name: String, shape: Vec<usize> },
    #[error("tensor `{name}` has shape {found:?}, but the model described in model.toml needs {expected:?}")]
    Shape { name: String, found: Vec<usize>, expected: Vec<usize> },
    #[error("tensor `{name}` is {dtype}, expected F32")]
    Dtype { name: String, dtype: String },
    #[error("has tensors the model described in model.toml does not: {0}")]
    Extra(String),
}

/// The network's parameters as a safetensors file, with `metadata` in its header.
pub fn to_safetensors<D: Backend>(net: &Network<D>, metadata: HashMap<String, String>) -> Vec<u8> {
    let infos = param_infos(net);
    let values = flat_values(net);
    let bytes: Vec<Vec<u8>> = infos
        .iter()
        .map(|p| values[p.offset..p.offset + p.len].iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, TensorView<'_>)> = infos
        .iter()
        .zip(&bytes)
        .map(|(p, b)| (p.name.clone(), TensorView::new(Dtype::F32, p.shape.clone(), b).expect("shape matches data")))
        .collect();
    ::safetensors::serialize(views, Some(metadata)).expect("in-memory serialisation")
}

/// Loads every parameter of `net` from safetensors `bytes`; names, shapes and dtypes must fit
/// the network exactly.
pub fn load_safetensors<D: Backend>(net: &mut Network<D>, bytes: &[u8]) -> Result<(), CheckpointError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Format(e.to_string()))?;
    let infos = param_infos(net);
    let mut values = Vec::with_capacity(infos.iter().map(|p| p.len).sum());
    for p in &infos {
        let t = file
            .tensor(&p.name)
            .map_err(|_| CheckpointError::Missing { name: p.name.clone(), shape: p.shape.clone() })?;
        if t.dtype() != Dtype::F32 {
            return Err(CheckpointError::Dtype { name: p.name.clone(), dtype: format!("{:?}", t.dtype()) });
        }
        if t.shape() != p.shape.as_slice() {
            return Err(CheckpointError::Shape {
                name: p.name.clone(),
                found: t.shape().to_vec(),
                expected: p.shape.clone(),
            });
        }
        values.extend(t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))));
    }
    let mut extra: Vec<String> =
        file.names().into_iter().filter(|n| !infos.iter().any(|p| p.name == *n)).map(str::to_string).collect();
    if !extra.is_empty() {
        extra.sort();
        return Err(CheckpointError::Extra(extra.join(", ")));
    }
    set_flat_values(net, &values);
    Ok(())
}

/// The `__metadata__` of a safetensors file (empty when it has none).
pub fn metadata(bytes: &[u8]) -> Result<HashMap<String, String>, CheckpointError> {
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| CheckpointError::Format(e.to_string()))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}
