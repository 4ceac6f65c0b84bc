//! One file per dataset plugin.

pub mod parity;
