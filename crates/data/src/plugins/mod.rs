//! One file per dataset plugin.

pub mod count_ones;
pub mod parity;
pub mod sine;
