//! Files the engine reads and writes, shared by every stage above it.
//!
//! - [`npy`]: NumPy `.npy` arrays (features, embeddings, labels);
//! - [`atomic`]: output files written to a temporary name and renamed into place, and output
//!   folders staged and moved into place as a whole;
//! - [`plot`]: PNG scatter plots and curves.

pub mod atomic;
pub mod npy;
pub mod plot;

pub use atomic::{clobbered, write_atomic, write_png, AtomicFile, StagedDir};
