//! Deep degradation representations: test sets that differ only in their degradation, the
//! features a network computes for them, their reduction and the cluster scores.

pub mod features;
pub mod testsets;
