//! `[run]`: where a trial runs (`device`), parsed once when the spec is decoded.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[run]`: where a trial runs. Gridable, so a sweep can compare devices.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// `cpu`, `cuda` (GPU 0) or `cuda:N` (docs/cuda.md), parsed when the spec is decoded;
    /// whether this build and machine have CUDA is checked before any trial runs.
    #[serde(default)]
    pub device: Device,
}

/// `[run] device`: the parsed device, serialised as the spec spelled it (`cuda` stays `cuda`,
/// so trial ids — hashes of the serialised config — do not depend on this type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub kind: DeviceKind,
    spelled: String,
}

impl Default for Device {
    fn default() -> Self {
        Device { kind: DeviceKind::Cpu, spelled: "cpu".into() }
    }
}

impl std::str::FromStr for Device {
    type Err = String;

    fn from_str(s: &str) -> Result<Device, String> {
        let kind = match s {
            "cpu" => DeviceKind::Cpu,
            "cuda" => DeviceKind::Cuda(0),
            d => match d.strip_prefix("cuda:").map(str::parse) {
                Some(Ok(n)) => DeviceKind::Cuda(n),
                _ => return Err(format!("unknown device `{s}`: use \"cpu\", \"cuda\" (the first GPU) or \"cuda:N\"")),
            },
        };
        Ok(Device { kind, spelled: s.to_string() })
    }
}

impl JsonSchema for Device {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Device".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "default": "cpu" })
    }
}

impl Serialize for Device {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.spelled)
    }
}

impl<'de> Deserialize<'de> for Device {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Device, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a trial runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Cpu,
    /// The CUDA GPU with this ordinal.
    Cuda(usize),
}

impl std::fmt::Display for DeviceKind {
    /// As `[run] device` spells it: `cpu`, `cuda:N`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceKind::Cpu => f.write_str("cpu"),
            DeviceKind::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl RunConfig {
    /// The device trials run on.
    pub fn device(&self) -> DeviceKind {
        self.device.kind
    }
}
