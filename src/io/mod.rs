//! File formats the engine reads and writes for other tools.
//!
//! - [`npy`]: NumPy `.npy` arrays (features, embeddings, labels).

pub mod npy;
