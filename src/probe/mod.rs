//! Deep degradation representations, the analysis half: PCA, exact t-SNE (CPU and CUDA),
//! cluster scores (WD, BD, Calinski-Harabasz) and scatter plots. `ddr-engine tsne` and (later)
//! `ddr-engine probe` are thin layers over these functions.

pub mod eigen;
pub(crate) mod fastmath;
pub mod metrics;
pub mod pca;
pub mod plot;
pub mod tsne;
pub mod tsne_cpu;
pub(crate) mod tsne_cuda;

pub use metrics::{cluster_scores, ClusterScores};
pub use pca::{pca, Pca};
pub use tsne::{joint_probabilities, tsne, Init, TsneConfig, TsneResult};
