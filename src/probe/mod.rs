//! Deep degradation representations: test sets that differ only in their degradation
//! (`testsets`), the features a network computes for them (`features`), their reduction (PCA,
//! exact t-SNE on CPU and CUDA), the cluster scores (WD, BD, Calinski-Harabasz), scatter plots,
//! and the whole probe with its report (`run`, `report`). `ddr-engine tsne` and
//! `ddr-engine probe` are thin layers over these functions.

pub mod eigen;
pub(crate) mod fastmath;
pub mod features;
pub mod pca;
pub mod report;
pub mod run;
pub mod study;
pub mod testsets;
pub mod tsne;
pub mod tsne_affinity;
pub mod tsne_cpu;
pub(crate) mod tsne_cuda;

pub use pca::{pca, Pca};
pub use tsne::{joint_probabilities, tsne, Init, PStorage, TsneConfig, TsneResult};
