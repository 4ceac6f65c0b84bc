//! A trial's state at an evaluation, enough to continue it as if it had never stopped
//! (`[train] resumable`): the parameters, the optimizer's state, the positions of the dropout
//! and weight-noise streams, the curve so far and early stopping's best parameters. The batch
//! order is replayed from the seed (cheap), and early stopping and the plateau schedule are
//! replayed from the curve. Stored as safetensors: every buffer bit for bit (the curve as f64
//! with a mask of which values were measured), the counters in the header.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::{CurvePoint, Metrics};

/// Everything a trial resumes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Steps taken (the last evaluation's step).
    pub step: usize,
    pub params: Vec<f32>,
    pub optimizer: rnnlab_nn::optim::State,
    /// Words drawn from the dropout and weight-noise streams (ChaCha positions).
    pub dropout_words: u128,
    pub noise_words: u128,
    pub curve: Vec<CurvePoint>,
    /// Early stopping's best parameters, when the trial keeps them for its checkpoint.
    pub best_params: Option<Vec<f32>>,
    pub eval_seconds: f64,
    pub wall_seconds: f64,
}

/// Values per curve row: step, epoch, train loss, wall seconds, then test and valid metrics.
const ROW: usize = 12;

fn metrics_cells(m: Option<&Metrics>) -> [Option<f64>; 4] {
    match m {
        Some(m) => [Some(m.loss), m.accuracy, m.mse, m.nll],
        None => [None; 4],
    }
}

fn row(p: &CurvePoint) -> [Option<f64>; ROW] {
    let mut r = [None; ROW];
    r[..4].copy_from_slice(&[Some(p.step as f64), Some(p.epoch), Some(p.train_loss), Some(p.wall_seconds)]);
    r[4..8].copy_from_slice(&metrics_cells(Some(&p.test)));
    r[8..].copy_from_slice(&metrics_cells(p.valid.as_ref()));
    r
}

fn point(r: &[Option<f64>]) -> Result<CurvePoint, String> {
    let need = |i: usize| r[i].ok_or_else(|| format!("curve value {i} missing"));
    let metrics = |c: &[Option<f64>]| c[0].map(|loss| Metrics { loss, accuracy: c[1], mse: c[2], nll: c[3] });
    Ok(CurvePoint {
        step: need(0)? as usize,
        epoch: need(1)?,
        train_loss: need(2)?,
        wall_seconds: need(3)?,
        test: metrics(&r[4..8]).ok_or("curve test metrics missing")?,
        valid: metrics(&r[8..]),
    })
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Snapshot {
    /// The snapshot as a safetensors file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        let mut f32s = |name: String, v: &[f32]| tensors.push((name, Dtype::F32, vec![v.len()], f32_bytes(v)));
        f32s("params".into(), &self.params);
        for (i, b) in self.optimizer.buffers.iter().enumerate() {
            f32s(format!("optimizer.{i}"), b);
        }
        if let Some(best) = &self.best_params {
            f32s("best_params".into(), best);
        }
        let rows: Vec<[Option<f64>; ROW]> = self.curve.iter().map(row).collect();
        let shape = vec![rows.len(), ROW];
        let values = rows.iter().flatten().flat_map(|v| v.unwrap_or(0.0).to_le_bytes()).collect();
        let measured = rows.iter().flatten().map(|v| u8::from(v.is_some())).collect();
        tensors.push(("curve".into(), Dtype::F64, shape.clone(), values));
        tensors.push(("curve_measured".into(), Dtype::U8, shape, measured));
        let views: Vec<(String, TensorView<'_>)> = tensors
            .iter()
            .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).expect("shape matches data")))
            .collect();
        let metadata = HashMap::from([
            ("step".to_string(), self.step.to_string()),
            ("optimizer_steps".into(), self.optimizer.steps.to_string()),
            ("optimizer_buffers".into(), self.optimizer.buffers.len().to_string()),
            ("dropout_words".into(), self.dropout_words.to_string()),
            ("noise_words".into(), self.noise_words.to_string()),
            ("eval_seconds".into(), self.eval_seconds.to_string()),
            ("wall_seconds".into(), self.wall_seconds.to_string()),
        ]);
        safetensors::serialize(views, Some(metadata)).expect("in-memory serialisation")
    }

    /// Reads [`Snapshot::to_bytes`]'s file; any damage is an error (the trial then starts over).
    pub fn from_bytes(bytes: &[u8]) -> Result<Snapshot, String> {
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())?;
        let file = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
        let meta = header.metadata().clone().unwrap_or_default();
        fn parse<T: std::str::FromStr>(meta: &HashMap<String, String>, key: &str) -> Result<T, String> {
            meta.get(key).and_then(|v| v.parse().ok()).ok_or_else(|| format!("no valid `{key}` in the header"))
        }
        let tensor = |name: &str, dtype: Dtype| -> Result<Vec<u8>, String> {
            let t = file.tensor(name).map_err(|_| format!("no tensor `{name}`"))?;
            if t.dtype() != dtype {
                return Err(format!("tensor `{name}` is {:?}", t.dtype()));
            }
            Ok(t.data().to_vec())
        };
        let f32s = |name: &str| -> Result<Vec<f32>, String> {
            Ok(tensor(name, Dtype::F32)?.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect())
        };
        let buffers = parse::<usize>(&meta, "optimizer_buffers")?;
        let optimizer = rnnlab_nn::optim::State {
            buffers: (0..buffers).map(|i| f32s(&format!("optimizer.{i}"))).collect::<Result<_, _>>()?,
            steps: parse(&meta, "optimizer_steps")?,
        };
        let values: Vec<f64> =
            tensor("curve", Dtype::F64)?.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
        let measured = tensor("curve_measured", Dtype::U8)?;
        if values.len() != measured.len() || !values.len().is_multiple_of(ROW) {
            return Err("the curve's values and mask differ in size".into());
        }
        let cells: Vec<Option<f64>> = values.iter().zip(&measured).map(|(v, m)| (*m == 1).then_some(*v)).collect();
        let curve = cells.chunks(ROW).map(point).collect::<Result<Vec<_>, _>>()?;
        let best_params = file.names().contains(&"best_params").then(|| f32s("best_params")).transpose()?;
        Ok(Snapshot {
            step: parse(&meta, "step")?,
            params: f32s("params")?,
            optimizer,
            dropout_words: parse(&meta, "dropout_words")?,
            noise_words: parse(&meta, "noise_words")?,
            curve,
            best_params,
            eval_seconds: parse(&meta, "eval_seconds")?,
            wall_seconds: parse(&meta, "wall_seconds")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_survives_its_file_bit_for_bit() {
        let m = |x: f64| Metrics { loss: x, accuracy: Some(f64::NAN), mse: None, nll: None };
        let s = Snapshot {
            step: 40,
            params: vec![0.1, -2.5e-8, f32::MIN_POSITIVE],
            optimizer: rnnlab_nn::optim::State { buffers: vec![vec![1.0, 2.0, 3.0], vec![]], steps: 40 },
            dropout_words: u128::MAX - 3,
            noise_words: 7,
            curve: vec![
                CurvePoint { step: 20, epoch: 0.5, train_loss: 0.7, test: m(0.6), valid: None, wall_seconds: 1.0 },
                CurvePoint {
                    step: 40,
                    epoch: 1.0,
                    train_loss: 0.5,
                    test: m(0.4),
                    valid: Some(m(0.3)),
                    wall_seconds: 2.0,
                },
            ],
            best_params: Some(vec![4.0; 3]),
            eval_seconds: 0.25,
            wall_seconds: 2.5,
        };
        let back = Snapshot::from_bytes(&s.to_bytes()).unwrap();
        // NaN != NaN: compare the accuracy's bits, then the rest.
        assert!(back.curve[0].test.accuracy.unwrap().is_nan());
        let clean = |mut s: Snapshot| {
            for p in &mut s.curve {
                p.test.accuracy = None;
                p.valid.iter_mut().for_each(|v| v.accuracy = None);
            }
            s
        };
        assert_eq!(clean(back), clean(s.clone()));
        let bytes = s.to_bytes();
        assert!(Snapshot::from_bytes(&bytes[..bytes.len() - 3]).is_err(), "a cut file is refused");
    }
}
