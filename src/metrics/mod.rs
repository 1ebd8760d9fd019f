//! The numbers the engine reports, in one place: image quality as SR papers measure it
//! ([`image`]: PSNR, PSNR-Y, sharpness) and the separation of labelled points ([`cluster`]: WD,
//! BD, Calinski-Harabasz).

pub mod cluster;
pub mod image;

pub use cluster::{cluster_scores, ClusterScores};
