//! Deep degradation representations: test sets that differ only in their degradation
//! (`testsets`), the features a network computes for them (`features`), their reduction (PCA and
//! exact t-SNE from [`crate::reduce`]), the cluster scores (WD, BD, Calinski-Harabasz), scatter plots,
//! and the whole probe with its report (`run`, `report`). `ddr-engine tsne` and
//! `ddr-engine probe` are thin layers over these functions.

pub mod features;
pub mod report;
pub mod run;
pub mod study;
pub mod testsets;
