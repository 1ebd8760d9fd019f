//! Dimensionality reduction for the probe and the `tsne` command: exact PCA (`pca`, on the
//! symmetric eigensolver in `eigen`) and exact t-SNE (`tsne`: affinities, the CPU engine and
//! the CUDA engine side by side, one optimiser over both).

pub mod eigen;
pub mod pca;
pub mod tsne;

pub use pca::{pca, Pca};
pub use tsne::{joint_probabilities, tsne, Init, PStorage, TsneConfig, TsneResult};
