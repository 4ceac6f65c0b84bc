//! Reading the golden vectors (`tests/golden/`, from `scripts/golden.py`; `RNNLAB_GOLDEN`
//! overrides the folder), shared by the tests that compare with PyTorch.

use std::path::PathBuf;

use serde_json::Value;

/// The golden file `name`, parsed.
pub fn golden(name: &str) -> Value {
    let dir = std::env::var("RNNLAB_GOLDEN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden"));
    assert!(dir.join("README.md").exists(), "golden vectors not found at {} (set RNNLAB_GOLDEN)", dir.display());
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

/// Every number of a (nested) JSON array, in order.
pub fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not numeric: {other}"),
    }
}
