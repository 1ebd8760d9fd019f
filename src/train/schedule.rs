//! Learning-rate schedules as pure functions of the (1-based) iteration, as BasicSR steps them:
//! the rate used at iteration t is `lr(t)`, so a resumed run continues on the same curve.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// The base rate throughout.
    #[default]
    Constant,
    /// Multiply by `gamma` at each milestone (the DDR supplement: halve at 100k, 300k, 500k, 600k).
    Multistep { milestones: Vec<u64>, gamma: f64 },
    /// Cosine annealing with restarts (BasicSR's CosineAnnealingRestartLR): cycle i lasts
    /// `periods[i]` iterations and starts from `restart_weights[i]` times the base rate.
    CosineRestarts { periods: Vec<u64>, restart_weights: Vec<f64>, eta_min: f64 },
}

impl Schedule {
    pub fn validate(&self) -> crate::Result<()> {
        if let Schedule::CosineRestarts { periods, restart_weights, .. } = self {
            anyhow::ensure!(
                !periods.is_empty()
                    && periods.len() == restart_weights.len()
                    && periods.iter().all(|&p| p > 0),
                "cosine_restarts needs as many restart_weights as periods, and periods > 0"
            );
        }
        Ok(())
    }

    /// The learning rate at iteration `t` (1-based) for base rate `base`.
    pub fn lr(&self, base: f64, t: u64) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Multistep { milestones, gamma } => {
                base * gamma.powi(milestones.iter().filter(|&&m| m <= t).count() as i32)
            }
            Schedule::CosineRestarts { periods, restart_weights, eta_min } => {
                let mut start = 0u64;
                for (&period, &weight) in periods.iter().zip(restart_weights) {
                    if t <= start + period {
                        let phase = (t - start) as f64 / period as f64;
                        return eta_min
                            + weight * 0.5 * (base - eta_min) * (1.0 + (std::f64::consts::PI * phase).cos());
                    }
                    start += period;
                }
                *eta_min
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multistep_halves_at_each_milestone() {
        let s = Schedule::Multistep { milestones: vec![10, 20], gamma: 0.5 };
        assert_eq!(s.lr(1.0, 9), 1.0);
        assert_eq!(s.lr(1.0, 10), 0.5);
        assert_eq!(s.lr(1.0, 25), 0.25);
    }

    #[test]
    fn cosine_restarts_follow_the_cycles() {
        let s =
            Schedule::CosineRestarts { periods: vec![10, 10], restart_weights: vec![1.0, 0.5], eta_min: 0.0 };
        assert!((s.lr(1.0, 5) - 0.5).abs() < 1e-12);
        assert!(s.lr(1.0, 10).abs() < 1e-12);
        assert!((s.lr(1.0, 11) - 0.5 * 0.5 * (1.0 + (std::f64::consts::PI * 0.1).cos())).abs() < 1e-12);
        assert_eq!(s.lr(1.0, 100), 0.0);
    }
}
