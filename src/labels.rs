//! Class labels (integers, as `.npy` files store them) as dense codes 0..K-1, shared by the
//! cluster scores and the scatter plots so both colour and count the classes alike.

use std::collections::BTreeMap;

/// Maps arbitrary integer labels to 0..K-1 in increasing label order; returns the codes and the
/// distinct labels.
pub fn encode_labels(labels: &[i64]) -> (Vec<usize>, Vec<i64>) {
    let mut map = BTreeMap::new();
    for &l in labels {
        map.entry(l).or_insert(0usize);
    }
    for (code, v) in map.values_mut().enumerate() {
        *v = code;
    }
    let codes = labels.iter().map(|l| map[l]).collect();
    (codes, map.into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_in_increasing_order() {
        let (codes, distinct) = encode_labels(&[30, -2, 30, 7]);
        assert_eq!(codes, vec![2, 0, 2, 1]);
        assert_eq!(distinct, vec![-2, 7, 30]);
    }
}
