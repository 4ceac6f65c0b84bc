//! One file per dataset plugin.

pub mod adding;
pub mod copy_memory;
pub mod count_ones;
pub mod csv_files;
pub mod manual;
pub mod mnist;
pub mod parity;
pub mod poly_music;
pub mod sine;
pub mod synthetic;
