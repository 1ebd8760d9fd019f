//! The numbers the engine reports, in one place: image quality as SR papers measure it
//! ([`image`]: PSNR, PSNR-Y, sharpness) and the separation of labelled points ([`cluster`]: WD,
//! BD, Calinski-Harabasz), with a neighbourhood score ([`neighbours`]: leave-one-out k-NN
//! accuracy) and label-permutation nulls to judge both against ([`permutation`]).

pub mod cluster;
pub mod image;
pub mod neighbours;
pub mod permutation;

pub use cluster::{cluster_scores, ClusterScores};
